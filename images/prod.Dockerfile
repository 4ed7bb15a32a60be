# kit's `prod` image flavour: a toolchain x CUTLASS image (KIT_IMAGE, built from the top-level
# Dockerfile) plus PyTorch, for python repros (FlashInfer's CUTLASS fused MoE). kit builds it
# through the Docker SDK (kit/flavour.py) and tags it prod-<hash of all its inputs> in the
# toolchain image's repository. Cells pip-install their own FlashInfer into their build
# folder; this image holds what does not change per cell.
#
#   TORCH            a pip requirement (default: torch, PyPI's CUDA build)  <- KIT_TORCH
#   TORCH_INDEX_URL  the index it comes from (default: pip's)               <- KIT_TORCH_INDEX
#   wheels/          KIT_WHEELS's wheels, a --find-links for it (PyTorch without a registry)
ARG KIT_IMAGE

# The wheels stay in this stage: the image gets what pip installed from them, not them.
FROM ${KIT_IMAGE} AS torch
USER root
ARG TORCH=torch
ARG TORCH_INDEX_URL=
ENV PIP_ROOT_USER_ACTION=ignore
COPY wheels /tmp/kit-wheels
RUN kit-pip install --quiet --no-cache-dir --disable-pip-version-check --target /opt/kit-python \
      --find-links /tmp/kit-wheels ${TORCH_INDEX_URL:+--index-url "${TORCH_INDEX_URL}"} "${TORCH}"
# FlashInfer's JIT imports packaging (kit's own Python has it on the host), PyTorch warns at
# import without numpy; from pip's index, as a PyTorch index need not carry them.
RUN kit-pip install --quiet --no-cache-dir --disable-pip-version-check --target /opt/kit-python \
      --find-links /tmp/kit-wheels packaging numpy

# What FlashInfer's JIT compiles and links its modules with beyond nvcc: <nvrtc.h>,
# <cublasLt.h>, <curand_kernel.h> (TensorRT-LLM's headers) and -L$CUDA_HOME/lib64
# -L.../stubs -lcudart -lcuda -lnvrtc. CUDA devel images have all of it; a pip toolchain gets
# NVRTC of its release and the cuBLAS / cuRAND headers (their libraries are not linked).
FROM ${KIT_IMAGE} AS cudalibs
USER root
ARG TOOLCHAIN=pip
ARG CUDA_PIP_VERSION=
ENV PIP_ROOT_USER_ACTION=ignore
RUN set -eu; mkdir -p /tmp/kit-cuda/include /tmp/kit-cuda/lib; \
    if [ "${TOOLCHAIN}" = pip ]; then \
      major="$(echo "${CUDA_PIP_VERSION}" | cut -d. -f1)"; \
      minor="$(echo "${CUDA_PIP_VERSION}" | cut -d. -f2)"; \
      release=">=${major}.${minor},<${major}.$((minor + 1))"; \
      kit-pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
        -d /tmp/wheels "nvidia-cuda-nvrtc${release}" "nvidia-cublas${release}" nvidia-curand; \
      for wheel in /tmp/wheels/*.whl; do python3 -m zipfile -e "${wheel}" /tmp/x; done; \
      cp -a "/tmp/x/nvidia/cu${major}/include/." /tmp/kit-cuda/include/; \
      cp -a "/tmp/x/nvidia/cu${major}/lib/"libnvrtc* /tmp/kit-cuda/lib/; \
      rm -rf /tmp/wheels /tmp/x; \
      for h in nvrtc.h cublasLt.h curand_kernel.h; do \
        test -f "/tmp/kit-cuda/include/${h}" \
          || { echo "no ${h} in the CUDA ${major}.${minor} wheels" >&2; exit 1; }; \
      done; \
    fi

FROM ${KIT_IMAGE} AS prod
USER root
COPY --from=torch /opt/kit-python /opt/kit-python
COPY --from=cudalibs /tmp/kit-cuda /tmp/kit-cuda
# PyTorch on every python3's path, below a cell's own packages (its launcher puts them first);
# the toolchain's libraries where the loader finds them (a JIT module needs libcudart.so.13
# whatever CUDA PyTorch was built with); the driver stub only where the linker looks.
RUN set -eu; \
    site="$(python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"; \
    mkdir -p "${site}"; echo /opt/kit-python > "${site}/kit-python.pth"; \
    cuda="$(readlink -f /opt/cuda)"; \
    for part in include lib; do \
      if [ -n "$(ls -A "/tmp/kit-cuda/${part}")" ]; then \
        cp -an "/tmp/kit-cuda/${part}/." "${cuda}/${part}/"; fi; \
    done; \
    rm -rf /tmp/kit-cuda; \
    if [ -d "${cuda}/lib" ] && [ ! -e "${cuda}/lib64" ]; then ln -s lib "${cuda}/lib64"; fi; \
    if [ -d "${cuda}/lib64" ]; then \
      cd "${cuda}/lib64"; \
      for lib in cudart nvrtc; do \
        found="$(ls "lib${lib}.so."* 2>/dev/null | head -n1)"; \
        if [ ! -e "lib${lib}.so" ] && [ -n "${found}" ]; then ln -s "${found}" "lib${lib}.so"; fi; \
      done; \
      if [ ! -e stubs/libcuda.so ]; then \
        mkdir -p stubs; \
        echo 'void kit_cuda_stub(void) {}' | gcc -x c -shared -fPIC -Wl,-soname,libcuda.so.1 \
          -o stubs/libcuda.so -; \
      fi; \
      echo "${cuda}/lib64" > /etc/ld.so.conf.d/kit-cuda.conf; ldconfig; \
    fi; \
    python3 -c 'import torch; print("PyTorch", torch.__version__)'
USER kit
