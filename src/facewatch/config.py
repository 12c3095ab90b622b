"""The one settings object: every knob facewatch has, read from FACEWATCH_* environment
variables and an optional `.env` file. Nothing else in the package reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, StringConstraints, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from facewatch.faces.detectors import check_detector


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FACEWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -----------------------------------------------------------------
    bucket: str = "facewatch"
    s3_endpoint_url: str | None = None
    """None means real AWS S3; set it for moto, MinIO, seaweedfs."""
    region: str = "us-east-1"
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"

    # --- detection (edge agent and the detect function) -------------------------------
    detector: Annotated[str, AfterValidator(check_detector)] = "centerface"
    """The edge's detector (agent and detect function). CenterFace wins every edge
    benchmark (bench/RESULTS.md, "Edge detectors"): it finds every labelled face with
    almost no false ones, and on busy 1080p scenes costs less than Haar."""
    detect_width: int = Field(640, ge=64)
    """Frames are downscaled to at most this width before detection; boxes are mapped back."""
    haar_scale_factor: float = Field(1.1, gt=1.0)
    haar_min_neighbors: int = Field(5, ge=1)
    min_face_px: int = Field(40, ge=8)
    """Faces smaller than this (in full-frame pixels) are not worth uploading or judging."""
    yunet_model: str | None = None
    centerface_backend: Literal["auto", "onnxruntime", "opencv"] = "auto"
    """What runs CenterFace: onnxruntime when installed (`auto`; a third of OpenCV's time),
    else OpenCV's dnn."""
    jpeg_quality: int = Field(85, ge=10, le=100)
    spool_dir: Path | None = None
    """Where the edge agent keeps frames not yet uploaded, one folder per household-camera
    (None: ~/.cache/facewatch/spool; the container image sets /var/spool/facewatch)."""

    # --- recognition --------------------------------------------------------------
    match_threshold: float = Field(0.6, gt=0, lt=2)
    """Largest face-encoding distance that may ever name a known person (dlib's published
    operating point: 99.38% on LFW at 0.6); the threshold in use is derived from the gallery
    and match_false_accept_rate, and is never above this."""
    match_false_accept_rate: float = Field(0.02, gt=0, lt=1)
    """Target chance that a stranger is taken for one of the household's people: the
    threshold tightens as more people are enrolled, since a stranger has a chance with each."""
    match_margin_ratio: float = Field(0.85, gt=0, le=1)
    """A face is named only if its nearest person is at most this times as far as the
    second nearest (1 turns the check off)."""
    min_judge_face_px: int = Field(40, ge=8)
    """A face narrower than this is recorded as 'unsure': too few pixels to tell who it is."""
    min_sharpness: float = Field(15.0, ge=0)
    """Variance of the Laplacian of the face crop under which it is too blurred to judge."""
    encodings_check_seconds: float = Field(30.0, ge=0)

    # --- visits: one alert per stranger visit ---------------------------------------
    visit_window_seconds: float = Field(300.0, gt=0)
    """A visit stays open while its stranger is seen at least this often."""
    alert_cooldown_seconds: float = Field(1800.0, ge=0)
    """The same stranger seen again within this long after an alert does not alert again."""
    same_person_threshold: float = Field(0.55, gt=0, lt=2)
    """Encoding distance under which two unknown faces are taken to be one person."""
    stranger_memory_days: float = Field(30.0, gt=0)
    """A stranger not seen for this long is forgotten, with their face crops."""

    # --- the path from recognize to notify -----------------------------------------
    notify_url: str | None = None
    """recognize POSTs alerts here (functions-framework / Knative / Cloud Run)."""
    notify_function: str | None = None
    """Or invokes this Lambda function asynchronously (AWS)."""

    # --- alerts -------------------------------------------------------------------
    alert_channel: Literal["smtp", "ses"] = "smtp"
    mail_from: str = "facewatch@localhost"
    mail_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    operator_mail_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Who hears about faults (e.g. unreadable known encodings); default: mail_to."""
    timezone: str = "UTC"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = Field(10.0, gt=0, le=20)
    """Seconds for a whole SMTP session. At most 20: one email attempt and the webhook's 10 s
    must fit delivery's 30 s budget (delivery.DELIVERY_BUDGET_SECONDS)."""
    ses_region: str | None = None
    mqtt_url: SecretStr | None = None
    """The MQTT broker of the `mqtt` channel: mqtt://user:pass@host:1883 or mqtts://… (TLS).
    A secret: it may hold the password, and it is never logged (only host and port are)."""
    mqtt_prefix: str = Field("facewatch", pattern=r"^[^#+\x00]+$")
    """Topics are <prefix>/<household>/<camera>/visit and …/face."""
    mqtt_discovery_prefix: str = Field("homeassistant", pattern=r"^[^#+\x00]+$")
    """Home Assistant's discovery prefix: device configs go to <it>/device/<id>/config."""
    mqtt_ca_file: Path | None = None
    """CA certificate(s) that sign the broker's, for mqtts:// (default: the system's)."""
    mqtt_protocol: Literal["3.1.1", "5"] = "3.1.1"
    """3.1.1 is what every broker speaks; 5 where the broker offers it."""
    mqtt_timeout: float = Field(10.0, gt=0, le=20)
    """Seconds for one publish session (connect, each PUBACK): like smtp_timeout, at most 20
    so one attempt fits delivery's 30 s budget beside another channel's."""

    # --- links in alert emails ------------------------------------------------------
    link_secret: SecretStr | None = None
    """Signs the "I know this person" links; without it emails carry no such link."""
    feedback_url: str | None = None
    """Public URL of the feedback function (where the "I know this person" link points)."""
    link_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    console_url: str | None = None
    """Public URL of the household console (functions/console): where `facewatch
    console-link` and the alert emails' console links point."""
    console_session_seconds: int = Field(12 * 3600, ge=60, le=30 * 24 * 3600)
    """How long a console sign-in lasts before the browser must sign in again."""
    presign_seconds: int = Field(24 * 3600, ge=60, le=7 * 24 * 3600)
    """How long the link to the full frame works (SigV4 allows at most 7 days)."""

    # --- HTTP functions -----------------------------------------------------------
    detect_token: SecretStr | None = None
    """When set, POSTs to detect must carry `Authorization: Bearer <token>`."""
    detect_token_scope: Literal["deployment", "household"] = "deployment"
    """deployment: every camera presents detect_token itself. household: each household's
    cameras present that household's own token (`facewatch detect-token`, derived from
    detect_token, which then never leaves the deployment), so a token taken from one
    household's camera files nothing under another's."""
    webhook_token: SecretStr | None = None
    """When set, storage notifications POSTed to recognize must carry this Bearer token."""
    sns_topic_arns: Annotated[
        list[
            Annotated[
                str, StringConstraints(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")
            ]
        ],
        NoDecode,
        BeforeValidator(
            lambda v: [a.strip() for a in v.split(",") if a.strip()] if isinstance(v, str) else v
        ),
    ] = Field(default_factory=list)
    """SNS topics (comma-separated ARNs) that may deliver to recognize over HTTP(S): their
    messages are authenticated by SNS's signature instead of the bearer token, which SNS
    cannot send, and their subscriptions are confirmed (web/sns.py)."""
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=1)
    """Checked from the image header before any pixel is decoded: a decompression bomb
    is refused, not decoded."""

    @field_validator("mqtt_url", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # Compose passes `${FACEWATCH_MQTT_URL:-}` through as "": no broker, not a URL.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mail_to", "operator_mail_to", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process, read once (a function instance keeps its environment)."""
    return Settings()
