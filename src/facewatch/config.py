"""The one settings object: every knob facewatch has, read from FACEWATCH_* environment
variables and an optional `.env` file. Nothing else in the package reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from facewatch.exceptions import BadSettings
from facewatch.faces.detectors import DETECTOR_NAMES, check_detector

MIN_SECRET_BYTES = 32
"""The shortest link secret, webhook token or detect token facewatch starts with: 32 bytes
(`openssl rand -hex 32` gives 64); anything a person would type and remember is shorter."""

PLACEHOLDER_MARKS = ("change-me", "replace-me", "dev-secret", "dev-token")
"""What the deployment templates ship, or once shipped, in place of a secret (infra/k8s's
`REPLACE-ME-…`, compose's `facewatch-link-dev-secret`): a secret that contains one of these
is a template's, published with the repository, and is refused however long it is."""


def check_secret(value: str) -> str:
    """`value` when it can be a deployment's own secret; ValueError (with what to do) when it
    is short or a template's placeholder. Checked as Settings are read, so a function with a
    guessable secret refuses to start rather than accept forged links, sessions or frames."""
    if any(mark in value.lower() for mark in PLACEHOLDER_MARKS):
        raise ValueError("a placeholder from a deployment template; set a random one (openssl rand -hex 32)")
    size = len(value.encode())
    if size < MIN_SECRET_BYTES:
        raise ValueError(
            f"{size} bytes long, under the {MIN_SECRET_BYTES} a secret needs; "
            "set a random one (openssl rand -hex 32)"
        )
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FACEWATCH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # Each field's docstring is its description: docs/configuration.md's table is
        # generated from them (python docs/configuration_table.py).
        use_attribute_docstrings=True,
        # A refused secret must not be printed in the refusal (nor in a log that keeps it).
        hide_input_in_errors=True,
    )

    # --- storage -----------------------------------------------------------------
    bucket: str = "facewatch"
    """The bucket that holds everything: frames, results, known people, strangers, alerts."""
    s3_endpoint_url: str | None = None
    """None means real AWS S3; set it for moto, MinIO, seaweedfs."""
    region: str = "us-east-1"
    """The S3 region, and SES's unless ses_region says otherwise."""
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    """How S3 URLs name the bucket: path (moto, MinIO, seaweedfs) or virtual (AWS S3)."""
    frame_expiry_days: int | None = Field(None, ge=45, le=3650)
    """Frames are uploaded tagged `facewatch-expiry=frame` for the bucket's lifecycle rule
    that expires them this many days after upload (the AWS template's FrameExpiryDays,
    MinIO's ILM rule in infra/k8s); the retention sweep lifts the tag from the frames a
    person marked, or a visit or a stranger still needs, before then. Unset: no tag, the
    sweep alone enforces retention (docs/operators.md#retention)."""
    household_data_function: str | None = None
    """On AWS Lambda, the console hands a household's export and erasure to this function
    (the AWS template's HouseholdDataFunction, whose role may read and delete a whole
    household's folder; the console's may not). Unset there, the console refuses both and
    names the commands that do them."""

    # --- detection (edge agent and the detect function) -------------------------------
    detector: Annotated[str, AfterValidator(check_detector)] = Field(
        "centerface", json_schema_extra={"enum": list(DETECTOR_NAMES)}
    )
    """The edge's detector (agent and detect function). CenterFace wins every edge
    benchmark (bench/RESULTS.md, "Edge detectors"): it finds every labelled face with
    almost no false ones, and on busy 1080p scenes costs less than Haar."""
    detect_width: int = Field(640, ge=64)
    """Frames are downscaled to at most this width before detection; boxes are mapped back."""
    haar_scale_factor: float = Field(1.1, gt=1.0)
    """The Haar detector's step between scales (OpenCV's scaleFactor)."""
    haar_min_neighbors: int = Field(5, ge=1)
    """How many overlapping Haar hits make a face (OpenCV's minNeighbors)."""
    min_face_px: int = Field(40, ge=8)
    """Faces smaller than this (in full-frame pixels) are not worth uploading or judging."""
    yunet_model: str | None = None
    """Path of the YuNet ONNX model, for the `yunet` detector."""
    centerface_backend: Literal["auto", "onnxruntime", "opencv"] = "auto"
    """What runs CenterFace: onnxruntime when installed (`auto`; a third of OpenCV's time),
    else OpenCV's dnn."""
    jpeg_quality: int = Field(85, ge=10, le=100)
    """JPEG quality of the frames the edge uploads."""
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
    """How often recognize checks the known encodings' ETag (and rereads a household's
    alert rules), so an enrollment is seen without a restart."""

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
    notify_token: SecretStr | None = None
    """Alerts POSTed to notify must carry `Authorization: Bearer <token>`, and recognize
    sends it; without it notify takes no alert over HTTP (503). Lambda's asynchronous
    invoke is checked by IAM instead and needs none."""

    # --- alerts -------------------------------------------------------------------
    alert_channel: Literal["smtp", "ses"] = "smtp"
    """What sends the emails: an SMTP server or Amazon SES."""
    mail_from: str = "facewatch@localhost"
    """The emails' sender (for SES, an identity verified in SES)."""
    mail_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Recipients, comma-separated (a household may have its own: `facewatch household`)."""
    operator_mail_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Who hears about faults (e.g. unreadable known encodings); default: mail_to."""
    timezone: str = "UTC"
    """IANA time zone of the times in alerts and pages (a household may have its own)."""
    smtp_host: str = "localhost"
    """The SMTP server."""
    smtp_port: int = 25
    """The SMTP server's port."""
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    """none, starttls (upgrade a plain connection) or ssl (TLS from the start)."""
    smtp_username: str | None = None
    """SMTP login, when the server wants one."""
    smtp_password: SecretStr | None = None
    """SMTP password; never appears in logs."""
    smtp_timeout: float = Field(10.0, gt=0, le=20)
    """Seconds for a whole SMTP session. At most 20: one email attempt and the webhook's 10 s
    must fit delivery's 30 s budget (delivery.DELIVERY_BUDGET_SECONDS)."""
    ses_region: str | None = None
    """SES's region when it differs from region."""
    mqtt_url: SecretStr | None = None
    """The MQTT broker of the `mqtt` channel: mqtt://user:pass@host:1883 or mqtts://… (TLS).
    A secret: it may hold the password, and it is never logged (only host and port are)."""
    mqtt_prefix: str = Field("facewatch", pattern=r"^[^#+\x00]+$")
    """Topics are `<prefix>/<household>/<camera>/visit`, `…/face`, `…/last` and the
    household's `<prefix>/<household>/…` (docs/home-assistant.md)."""
    mqtt_discovery_prefix: str = Field("homeassistant/{household}", pattern=r"^[^#+\x00]+$")
    """Home Assistant's discovery prefix: device configs go to `<it>/device/…/config`. On
    this broker, which may serve many households, `{household}` is the household's id, so
    one household's Home Assistant (discovery prefix `homeassistant/<household>`) never
    discovers another's cameras; set `homeassistant` where the broker is one home's alone.
    On a household's own broker (its `mqtt_url`) `{household}` is dropped."""
    mqtt_announce_seconds: float = Field(3.0, ge=0, le=5)
    """How long a camera's first alert waits after announcing the camera (its discovery
    config), so Home Assistant has subscribed to its topics before the visit comes."""
    mqtt_ca_file: Path | None = None
    """CA certificate(s) that sign the broker's, for mqtts:// (default: the system's)."""
    mqtt_protocol: Literal["3.1.1", "5"] = "3.1.1"
    """3.1.1 is what every broker speaks; 5 where the broker offers it."""
    mqtt_timeout: float = Field(10.0, gt=0, le=20)
    """Seconds for one publish session (connect, each PUBACK): like smtp_timeout, at most 20
    so one attempt fits delivery's 30 s budget beside another channel's."""

    outbound_allow_private: bool = False
    """Whether a household's webhook and MQTT broker may be on a private network (RFC 1918,
    IPv6 ULA, CGNAT): on for `facewatch up`, where Home Assistant is on the LAN; off in the
    cloud templates. Loopback, link-local and metadata addresses are refused either way."""
    outbound_allow_loopback: bool = False
    """For tests and development only: a household's webhook or broker may be on this
    machine (127.0.0.1, ::1). No deployment template sets it."""

    # --- links in alert emails ------------------------------------------------------
    link_secret: SecretStr | None = None
    """Signs the "I know this person" links, the console's one-time sign-in links and its
    sessions; without it emails carry no such link and nobody can sign in to the console. At
    least 32 bytes; a template's placeholder is refused (it would let anyone who read the
    repository sign a console session)."""
    feedback_url: str | None = None
    """Public URL of the feedback function (where the "I know this person" link points)."""
    link_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    """How long an "I know this person" link works."""
    console_url: str | None = None
    """Public URL of the household console (functions/console): where `facewatch
    console-link` and the alert emails' console links point."""
    console_session_seconds: int = Field(12 * 3600, ge=60, le=30 * 24 * 3600)
    """How long a console sign-in lasts before the browser must sign in again."""
    presign_seconds: int = Field(24 * 3600, ge=60, le=7 * 24 * 3600)
    """How long the link to the full frame works (SigV4 allows at most 7 days)."""
    frame_link_url: str | None = None
    """Where alert links to pictures (the frame, MQTT's face) point when the storage is not
    public: a door serving signed, expiring picture links (`facewatch up` sets it to
    `<public_url>/picture`). Needs link_secret; unset: presigned links to the storage."""

    # --- HTTP functions -----------------------------------------------------------
    detect_token: SecretStr | None = None
    """When set, POSTs to detect must carry `Authorization: Bearer <token>` (at least 32
    bytes; a template's placeholder is refused)."""
    detect_token_scope: Literal["household", "camera", "deployment"] = "household"
    """household (the default): each household's cameras present that household's own token
    (`facewatch detect-token --household H`, derived from detect_token, which then never
    leaves the deployment), so a token taken from one household's camera files nothing under
    another's. camera: each camera its own (`--camera C` too), valid for that one camera
    name. deployment: every camera presents detect_token itself, and may file frames under
    any household (one household's deployments only)."""
    webhook_token: SecretStr | None = None
    """When set, storage notifications POSTed to recognize must carry this Bearer token (at
    least 32 bytes; a template's placeholder is refused)."""
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
    cannot send, and recognize confirms their subscriptions (web/sns.py)."""
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    """Largest frame detect accepts, and largest photo the console takes."""
    max_image_pixels: int = Field(40_000_000, ge=1)
    """Larger images are refused. Checked from the image header before any pixel is
    decoded: a decompression bomb is refused, not decoded."""

    # --- metrics and logs (docs/operators.md) ------------------------------------------
    metrics_per_household: bool = False
    """Label the metrics by household too: one time series per household and value of every
    other label, so leave it off for a deployment of many households."""
    metrics_token: SecretStr | None = None
    """The bearer token a long-running function's /metrics asks for (a Prometheus outside
    the host: compose, Kubernetes). Unset, /metrics answers only requests made to 127.0.0.1
    directly, never one a proxy passed on."""
    log_format: Literal["text", "json"] = "text"
    """json: the functions log JSON lines, each with the request id (the frame's key) that
    follows a frame from its upload to its alert; text: as before."""

    @field_validator("link_secret", "webhook_token", "detect_token", "notify_token", "metrics_token")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # smtp_password and mqtt_url are not checked: the mail server's and the broker's
        # owners choose them. These four are facewatch's own, and forge everything.
        if value is not None:
            check_secret(value.get_secret_value())
        return value

    @field_validator(
        "mqtt_url",
        "link_secret",
        "webhook_token",
        "detect_token",
        "notify_token",
        "metrics_token",
        "frame_expiry_days",
        mode="before",
    )
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # Compose passes `${FACEWATCH_MQTT_URL:-}` through as "": no broker, not a URL; an
        # empty secret is no secret (not one of 0 bytes to refuse).
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mail_to", "operator_mail_to", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process, read once (a function instance keeps its environment).
    BadSettings, naming each refused variable and why, when any is refused."""
    try:
        return Settings()
    except ValidationError as exc:
        raise BadSettings(refusals(exc)) from None


def refusals(exc: ValidationError) -> str:
    """A Settings ValidationError as one line per refused variable, without its value."""
    prefix = str(Settings.model_config.get("env_prefix", "FACEWATCH_"))
    return "\n".join(
        f"{prefix}{'_'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )
