# kit's pinned "vllm-dev style" image: a CUDA toolchain, the host compiler nvcc drives, the
# CUTLASS headers at a pinned version and kit's repro harness. One image per toolchain x
# CUTLASS source. kit builds it through the Docker SDK with the build args below (from
# matrix.yaml and images/lock.json) and tags it by the hash of all its inputs.
#
#   TOOLCHAIN=image  the base's own CUDA: BASE=nvidia/cuda:<ver>-devel-ubuntu24.04@sha256:...
#   TOOLCHAIN=pip    nvcc, crt, nvvm, runtime and cccl wheels of one release, on any Debian base
#   TOOLCHAIN=apt    Debian's nvidia-cuda-toolkit (12.4 in trixie non-free, 12.5 experimental)
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS system
# Every stage carries kit's label, so the untagged images a multi-stage build leaves behind
# (the CUTLASS and toolchain stages, ~0.7 GB each) are kit's to list and prune.
LABEL io.kit.managed="1"
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip g++ binutils ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Behind a TLS-intercepting proxy, kit passes the host's CA bundle (KIT_CA_BUNDLE, else
# PIP_CERT / REQUESTS_CA_BUNDLE / SSL_CERT_FILE); empty otherwise.
COPY kit-ca.crt /etc/kit/ca.crt
RUN printf '#!/bin/sh\nif [ -s /etc/kit/ca.crt ]; then exec python3 -m pip --cert /etc/kit/ca.crt "$@"; fi\nexec python3 -m pip "$@"\n' \
      > /usr/local/bin/kit-pip && chmod 755 /usr/local/bin/kit-pip

FROM system AS cutlass
ARG CUTLASS_PYPI=4.2.0.0
ARG CUTLASS_SHA256=
RUN kit-pip download --quiet --no-deps --only-binary=:all: -d /tmp/wheel \
      "nvidia-cutlass==${CUTLASS_PYPI}" \
 && if [ -n "${CUTLASS_SHA256}" ]; then \
      echo "${CUTLASS_SHA256}  $(ls /tmp/wheel/*.whl)" | sha256sum -c -; fi \
 && python3 -m zipfile -e /tmp/wheel/*.whl /tmp/x \
 && mkdir -p /opt/cutlass/tools/util \
 && mv /tmp/x/cutlass_library/source/include /tmp/x/cutlass_library/source/examples /opt/cutlass/ \
 && mv /tmp/x/cutlass_library/source/tools/util/include /opt/cutlass/tools/util/ \
 && rm -rf /tmp/wheel /tmp/x

FROM system AS toolchain
ARG TOOLCHAIN=pip
ARG CUDA_PIP_VERSION=13.0.88
# exact versions from images/lock.json; without a lock, the ranges kit.toolchains documents
ARG CUDA_RUNTIME_VERSION=
ARG CUDA_CCCL_VERSION=
ARG APT_SUITE=trixie
RUN set -eu; case "${TOOLCHAIN}" in \
    pip) major="$(echo "${CUDA_PIP_VERSION}" | cut -d. -f1)"; \
         minor="$(echo "${CUDA_PIP_VERSION}" | cut -d. -f2)"; \
         next="${major}.$((minor + 1))"; \
         kit-pip install --quiet --no-cache-dir --no-deps --break-system-packages \
           --target /opt/cuda-pip "nvidia-cuda-nvcc==${CUDA_PIP_VERSION}" \
           "nvidia-cuda-crt==${CUDA_PIP_VERSION}" "nvidia-nvvm==${CUDA_PIP_VERSION}" \
           "nvidia-cuda-runtime${CUDA_RUNTIME_VERSION:+==}${CUDA_RUNTIME_VERSION:->=${major}.${minor},<${next}}" \
           "nvidia-cuda-cccl${CUDA_CCCL_VERSION:+==}${CUDA_CCCL_VERSION:->=${major}.0,<${next}}"; \
         ln -s "$(dirname "$(dirname /opt/cuda-pip/nvidia/cu*/bin/nvcc)")" /opt/cuda ;; \
    apt) echo "deb http://deb.debian.org/debian ${APT_SUITE} main contrib non-free" \
           > /etc/apt/sources.list.d/kit-cuda.list; \
         apt-get update; \
         apt-get install -y --no-install-recommends -t "${APT_SUITE}" nvidia-cuda-toolkit; \
         rm -rf /var/lib/apt/lists/*; \
         ln -s /usr/lib/nvidia-cuda-toolkit /opt/cuda ;; \
    image) ln -s /usr/local/cuda /opt/cuda ;; \
    *) echo "unknown TOOLCHAIN=${TOOLCHAIN} (pip, apt or image)" >&2; exit 2 ;; \
  esac; \
  /opt/cuda/bin/nvcc --version

FROM toolchain AS kit
COPY --from=cutlass /opt/cutlass /opt/cutlass
COPY repros/harness /opt/kit/harness
RUN useradd --create-home --uid 1000 --shell /bin/sh kit
ENV KIT_CUDA_HOME=/opt/cuda KIT_CUTLASS=/opt/cutlass PATH=/opt/cuda/bin:${PATH}
USER kit
WORKDIR /home/kit
