#!/usr/bin/env bash
# Device call: the sm90 preset again after the repros' refactor (one harness argument parser,
# shared host helpers), compared cell by cell with the 2026-11-25 H100 run of the same preset.
set -u
export KIT_CACHE=/tmp/kitcache PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:/tmp/site
python3 -m pip install -q --no-index --no-deps --target /tmp/site \
  .carry/wheels/{jsonschema,jsonschema_specifications,referencing,rpds_py,attrs,typing_extensions}-*.whl 2>/dev/null
export PIP_NO_INDEX=1 PIP_FIND_LINKS=$PWD/.carry/wheels
t0=$(date +%s)
python3 -m kit matrix run --runtime host --axis cuda=host --preset sm90 --json > $OUT/sm90.json 2> $OUT/sm90.err
echo "sm90 preset: rc=$? $(( $(date +%s) - t0 )) s"
run=$(readlink -f results/latest)
python3 -m kit matrix diff "$PWD/docs/evidence/h100-2026-11-25/sm90" "$run" --format md > $OUT/diff.md 2>&1
echo "diff rc=$?"; cat $OUT/diff.md | head -40
tar czf $OUT/results.tgz -C results "$(basename $run)"
head -12 results/latest/report.md
