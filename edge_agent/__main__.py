"""The edge agent as its own entry point, for the box beside the camera:

    python -m edge_agent --source rtsp://camera.local/stream1 --household home --camera door

It is `facewatch agent` (src/facewatch/cli/agent.py): the same options, the same code."""

from facewatch.cli.agent import agent_command

if __name__ == "__main__":
    agent_command(prog_name="python -m edge_agent")
