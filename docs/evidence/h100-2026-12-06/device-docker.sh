#!/usr/bin/env bash
# Device call (issue 20): the sm90 preset's SM90 cells under nvcc 13.0.88 and 13.5.37, compiled
# on the CPU machine inside kit's Docker images (g++ 12.2.0 from Debian bookworm) and packed,
# run here twice from the same pack: on the host runtime, and on the Docker runtime with the
# engine carried (../shared/tools/docker-engine-pack) and no registry, so the binaries run in a
# run image kit makes from this machine's libraries. Then `kit matrix diff` of the two.
set -u
export KIT_CACHE=/tmp/kitcache PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:/tmp/site
python3 -m pip install -q --no-index --no-deps --target /tmp/site .carry/base/*.whl
mkdir -p /tmp/dk && tar -C /tmp/dk -xJf .dk/engine.tar.xz && export PATH=/tmp/dk/bin:$PATH
(LD_LIBRARY_PATH=/tmp/dk/lib setsid dockerd --iptables=false --bridge=none \
   --data-root /tmp/dkroot >/tmp/dockerd.log 2>&1 &)
for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker version --format 'engine {{.Server.Version}}' | tee $OUT/engine.txt
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee $OUT/gpu.txt
pack=.carry/packs/dk-sm90.kitpack.tar.gz
for rt in host docker; do
  t0=$(date +%s)
  python3 -m kit matrix run --from $pack --runtime $rt --results $PWD/res-$rt > $OUT/$rt.txt 2>&1
  echo "$rt: rc=$? $(( $(date +%s) - t0 )) s"; tail -4 $OUT/$rt.txt
  tar czf $OUT/$rt.tgz -C res-$rt "$(basename "$(readlink -f res-$rt/latest)")"
done
python3 -m kit matrix diff "$(readlink -f res-host/latest)" "$(readlink -f res-docker/latest)" \
  --format md > $OUT/diff.md 2>&1; echo "diff rc=$?"; head -20 $OUT/diff.md
docker images > $OUT/images.txt; docker ps -a >> $OUT/images.txt
cp /tmp/dockerd.log $OUT/
