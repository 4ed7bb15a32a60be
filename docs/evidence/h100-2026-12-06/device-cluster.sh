#!/usr/bin/env bash
# Device call (issue 20): Ray with a GPU node. Ray 2.60.0's wheel (79 MB) is over what travels
# to this machine in one call, so it comes as the wheel's own files less what a node of kit
# never imports (jars, rllib, data, serve, train, tune, llm, air, the dashboard's web client):
# 27.7 MB of xz. The sm90 preset on the host runtime, then through a head node on this
# machine that is also its GPU worker (own kit cache: it compiles for itself), then the diff.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:/tmp/site PIP_NO_INDEX=1 PIP_FIND_LINKS=$PWD/.carry/cutlass
python3 -m pip install -q --no-index --no-deps --target /tmp/site .carry/base/*.whl
tar -C /tmp/site -xJf .carry/ray.tar.xz
python3 -c "import ray; print('ray', ray.__version__)" | tee $OUT/ray.txt
nvidia-smi --query-gpu=name,driver_version --format=csv | tee $OUT/gpu.txt
t0=$(date +%s)
KIT_CACHE=/tmp/kitcache-host python3 -m kit matrix run --preset sm90 --runtime host \
  --axis cuda=host --results $PWD/res-host > $OUT/host.txt 2>&1
echo "host: rc=$? $(( $(date +%s) - t0 )) s"; tail -3 $OUT/host.txt
KIT_CACHE=/tmp/kitcache-node python3 -m kit cluster start --head --port 6379 \
  -- --include-dashboard=false --temp-dir=/tmp/ray > $OUT/cluster-start.txt 2>&1
echo "cluster start: rc=$?"; tail -3 $OUT/cluster-start.txt
export KIT_CACHE=/tmp/kitcache-driver
python3 -m kit cluster status --address 127.0.0.1:6379 | tee $OUT/cluster-status.txt
t0=$(date +%s)
python3 -m kit matrix run --preset sm90 --cluster 127.0.0.1:6379 --runtime host \
  --axis cuda=host --results $PWD/res-cluster > $OUT/cluster.txt 2>&1
echo "cluster: rc=$? $(( $(date +%s) - t0 )) s"; tail -3 $OUT/cluster.txt
python3 -m kit matrix diff "$(readlink -f res-host/latest)" "$(readlink -f res-cluster/latest)" \
  --format md > $OUT/diff.md 2>&1; echo "diff rc=$?"; head -20 $OUT/diff.md
for r in host cluster; do
  tar czf $OUT/$r.tgz -C res-$r "$(basename "$(readlink -f res-$r/latest)")"
done
python3 -m ray.scripts.scripts stop --force > /dev/null 2>&1
