# One image for the server binaries: lattice-hooks (default), lattice-operator, lattice-cell, lattice-agent.
#   docker build -t ghcr.io/lattice-python/lattice:0.1.0 .
#   docker run --rm -p 8080:8080 ghcr.io/lattice-python/lattice:0.1.0               # hook server
#   docker run --rm ghcr.io/lattice-python/lattice:0.1.0 lattice-operator --help    # or lattice-cell / lattice-agent
# Dependencies come from the hashed lock (requirements/runtime.txt), exactly as `make` installs them.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip wheel --no-cache-dir --no-deps --require-hashes --only-binary :all: --wheel-dir /wheels -r requirements/runtime.txt \
 && pip install --no-cache-dir --no-index --no-deps /wheels/*.whl
COPY pyproject.toml README.md ./
COPY crds crds
COPY hooks hooks
COPY cli cli
COPY lattice_cedar lattice_cedar
COPY lattice_tunnel lattice_tunnel
COPY lattice_move lattice_move
COPY lattice_cell lattice_cell
COPY lattice_agent lattice_agent
COPY lattice_operator lattice_operator
COPY lattice_dev lattice_dev
COPY lattice_proto lattice_proto
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --no-deps /wheels/*.whl
USER 65532:65532
EXPOSE 8080
CMD ["lattice-hooks", "--host", "0.0.0.0", "--port", "8080"]
