#!/usr/bin/env bash
# Device call (issues 20, 21): a pack compiled on the CPU machine (nvcc 13.0.88 + g++ 12.2.0,
# the sm90 preset, each cell given a prediction there) run here with --from on the host
# runtime: this GPU's outcomes for the very binaries the predictions were made for.
set -u
export KIT_CACHE=/tmp/kitcache-from PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:/tmp/site
python3 -m pip install -q --no-index --no-deps --target /tmp/site \
  .carry/wheels/{jsonschema,jsonschema_specifications,referencing,rpds_py}-*.whl 2>/dev/null
t0=$(date +%s)
python3 -m kit matrix run --from .carry/pred-sm90.kitpack.tar.gz --runtime host --results $PWD/results-from > $OUT/from.txt 2>&1
echo "from: rc=$? $(( $(date +%s) - t0 )) s"; head -8 $OUT/from.txt; tail -30 $OUT/from.txt
run=$(readlink -f results-from/latest)
tar czf $OUT/from.tgz -C results-from "$(basename $run)"
