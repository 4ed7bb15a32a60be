#!/usr/bin/env bash
# Device call (issue 17): a user's own CUTLASS program, no harness, through kit on the H100.
# 1. the own-repro preset (CUTLASS's host trace compiled in, as kit repro add sets it up);
# 2. the same cells with the trace left out, and kit matrix diff between the two;
# 3. the bug-report-style folder added with kit repro add, its step programs run;
# 4. kit repro run FILE.cu -D ... on a step, unadded.
set -u
export KIT_CACHE=/tmp/kitcache PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:/tmp/site
python3 -m pip install -q --no-index --no-deps --target /tmp/site \
  .carry/wheels/{jsonschema,jsonschema_specifications,referencing,rpds_py}-*.whl 2>/dev/null
export PIP_NO_INDEX=1 PIP_FIND_LINKS=$PWD/.carry/wheels
kit() { python3 -m kit "$@"; }
t0=$(date +%s)
kit matrix run --runtime host --axis cuda=host --preset own-repro --results $PWD/results > $OUT/own-trace.txt 2>&1
echo "own-repro (trace on): rc=$? $(( $(date +%s) - t0 )) s"; tail -25 $OUT/own-trace.txt
on=$(readlink -f results/latest)
t0=$(date +%s)
kit matrix run --runtime host --axis cuda=host --preset own-repro --axis cutlass_trace=off --results $PWD/results > $OUT/own-notrace.txt 2>&1
echo "own-repro (trace off): rc=$? $(( $(date +%s) - t0 )) s"; tail -12 $OUT/own-notrace.txt
off=$(readlink -f results/latest)
kit matrix diff "$on" "$off" --ignore-axis cutlass_trace --format md > $OUT/trace-diff.md 2>&1
echo "diff rc=$?"; head -30 $OUT/trace-diff.md
t0=$(date +%s)
kit repro add tests/data/own_repro > $OUT/add.txt 2>&1; echo "add rc=$?"; cat $OUT/add.txt
kit matrix run --runtime host --axis cuda=host --only 'repro=step*' --axis 'repro=step01_baseline,step02_offset,step03_timing' --axis arch=sm_90a --results $PWD/results > $OUT/steps.txt 2>&1
echo "steps: rc=$? $(( $(date +%s) - t0 )) s"; tail -14 $OUT/steps.txt
steps=$(readlink -f results/latest)
kit repro run tests/data/own_repro/steps/step02_offset.cu -D STEP_OFFSET=1 --cuda host --arch sm_90a --runtime host --results $PWD/results > $OUT/repro-run.txt 2>&1
echo "repro run: rc=$?"; cat $OUT/repro-run.txt | tail -6
adhoc=$(readlink -f results/latest)
tar czf $OUT/results.tgz -C results "$(basename $on)" "$(basename $off)" "$(basename $steps)" "$(basename $adhoc)"
# 5. CUTLASS's example 57 now builds with the trace too (no harness): same outcome as 2026-11-25?
t0=$(date +%s)
kit matrix run --runtime host --axis cuda=host --preset upstream --only repro=cutlass_ex57_hopper_grouped --results $PWD/results > $OUT/ex57.txt 2>&1
echo "ex57: rc=$? $(( $(date +%s) - t0 )) s"; tail -8 $OUT/ex57.txt
ex57=$(readlink -f results/latest)
kit matrix diff "$PWD/docs/evidence/h100-2026-11-25/upstream" "$ex57" --format md > $OUT/ex57-diff.md 2>&1; echo "ex57 diff rc=$?"; head -20 $OUT/ex57-diff.md
tar czf $OUT/results.tgz -C results "$(basename $on)" "$(basename $off)" "$(basename $steps)" "$(basename $adhoc)" "$(basename $ex57)"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
