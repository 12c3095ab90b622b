"""What never deploys: supervised local processes, the embedded local stack, the demo, the
outbox mail server, a seaweedfs server for tests, and the evaluation."""
