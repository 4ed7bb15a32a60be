#!/usr/bin/env bash
# Device call (issue 23): the sm90 preset on the GPU after kit moved into folders, diffed cell
# by cell against the same preset's run of 2026-11-26 (docs/evidence/h100-2026-11-26/).
set -u
export KIT_CACHE=/tmp/kitcache PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:/tmp/site
python3 -m pip install -q --no-index --no-deps --target /tmp/site \
  .carry/wheels/{jsonschema,jsonschema_specifications,referencing,rpds_py}-*.whl 2>/dev/null
export PIP_NO_INDEX=1 PIP_FIND_LINKS=$PWD/.carry/wheels
t0=$(date +%s)
python3 -m kit matrix run --runtime host --axis cuda=host --preset sm90 --results $PWD/results > $OUT/sm90.txt 2>&1
echo "sm90 preset: rc=$? $(( $(date +%s) - t0 )) s"; tail -6 $OUT/sm90.txt
run=$(readlink -f results/latest)
python3 -m kit matrix diff "$PWD/docs/evidence/h100-2026-11-26/sm90-after-refactor" "$run" --format md > $OUT/sm90-diff.md 2>&1
echo "diff rc=$?"; head -40 $OUT/sm90-diff.md
tar czf $OUT/sm90.tgz -C results "$(basename $run)"
