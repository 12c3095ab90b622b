#!/bin/sh
# One-shot MinIO setup for facewatch, run with the `mc` image (infra/compose and the
# infra/k8s Job run this same file: compose mounts it from here).
#
# MinIO itself knows the webhook target from its environment
# (MINIO_NOTIFY_WEBHOOK_*_facewatch, pointing at recognize with the Bearer token). This
# script creates the bucket, a least-privileged user for the functions and the agent, and
# subscribes the bucket's images to that target: prefix households/, one rule per suffix
# (a rule takes a single suffix), put and delete (known photos added or removed rebuild
# the encodings; recognize ignores removed frames). Safe to run again.
#
# Needs: MINIO_ROOT_USER, MINIO_ROOT_PASSWORD (admin), AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY (the application user to create), FACEWATCH_BUCKET.
set -eu

# The templates' placeholders (infra/k8s/secrets.yaml) and the dev defaults compose once had
# are published with the repository: a bucket whose keys anyone can read is not created.
for value in "$MINIO_ROOT_PASSWORD" "$AWS_SECRET_ACCESS_KEY"; do
  case "$value" in
    *[Rr][Ee][Pp][Ll][Aa][Cc][Ee]-[Mm][Ee]*|*[Cc][Hh][Aa][Nn][Gg][Ee]-[Mm][Ee]*|*dev-secret*)
      echo "refused: MINIO_ROOT_PASSWORD / AWS_SECRET_ACCESS_KEY is a template placeholder; set a random one (openssl rand -hex 32)" >&2
      exit 1 ;;
  esac
  if [ "${#value}" -lt 32 ]; then
    echo "refused: MINIO_ROOT_PASSWORD / AWS_SECRET_ACCESS_KEY is shorter than 32 characters; set a random one (openssl rand -hex 32)" >&2
    exit 1
  fi
done

MINIO_URL="${MINIO_URL:-http://minio:9000}"
BUCKET="${FACEWATCH_BUCKET:-facewatch}"
WEBHOOK_ARN="${WEBHOOK_ARN:-arn:minio:sqs::facewatch:webhook}"

echo "waiting for MinIO at $MINIO_URL"
until mc alias set local "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  sleep 2
done
mc ready local

# Not versioned: state/visits.json is rewritten for every stranger frame, and without a
# lifecycle rule for old versions they would pile up.
mc mb --ignore-existing "local/$BUCKET"

# The application user may list the bucket and read/write/delete under households/ only
# (tagging: frames are uploaded with the ILM rule's tag, retention lifts it from marked ones).
cat > /tmp/facewatch-app.json <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
      "Resource": ["arn:aws:s3:::$BUCKET"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging", "s3:DeleteObjectTagging"],
      "Resource": ["arn:aws:s3:::$BUCKET/households/*"]
    }
  ]
}
EOF
mc admin policy create local facewatch-app /tmp/facewatch-app.json
mc admin user add local "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
if ! out="$(mc admin policy attach local facewatch-app --user "$AWS_ACCESS_KEY_ID" 2>&1)"; then
  case "$out" in
    *"already in effect"*) ;;
    *) echo "$out" >&2; exit 1 ;;
  esac
fi

# Retention (docs/operators.md#retention): the scheduled `facewatch retention` deletes each
# household's frames past its retention_days; with FACEWATCH_FRAME_EXPIRY_DAYS set, frames
# are uploaded tagged facewatch-expiry=frame and this ILM rule expires them that many days
# after upload even if no sweep runs (the sweep lifts the tag from the marked ones first).
# `mc ilm import` replaces the bucket's rules: running this again changes nothing.
if [ -n "${FACEWATCH_FRAME_EXPIRY_DAYS:-}" ]; then
  cat > /tmp/facewatch-ilm.json <<EOF
{
  "Rules": [
    {
      "ID": "expire-tagged-frames",
      "Status": "Enabled",
      "Filter": {"And": {"Prefix": "households/", "Tags": [{"Key": "facewatch-expiry", "Value": "frame"}]}},
      "Expiration": {"Days": $FACEWATCH_FRAME_EXPIRY_DAYS}
    }
  ]
}
EOF
  mc ilm import "local/$BUCKET" < /tmp/facewatch-ilm.json
else
  mc ilm rule rm --all --force "local/$BUCKET" >/dev/null 2>&1 || true
fi

for suffix in .jpg .jpeg .png; do
  mc event add --ignore-existing "local/$BUCKET" "$WEBHOOK_ARN" \
    --event put,delete --prefix households/ --suffix "$suffix"
done
mc event ls "local/$BUCKET"
echo "facewatch storage ready: bucket $BUCKET, notifications to $WEBHOOK_ARN"
