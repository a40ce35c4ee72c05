# One image for the server binaries: lattice-hooks (default), lattice-operator, lattice-cell, lattice-agent.
#   docker build -t ghcr.io/lattice-python/lattice:0.1.0 .
#   docker run --rm -p 8080:8080 ghcr.io/lattice-python/lattice:0.1.0            # hook server
#   docker run --rm ghcr.io/lattice-python/lattice:0.1.0 lattice-operator --help  # or lattice-cell, lattice-agent
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY crds crds
COPY hooks hooks
COPY cli cli
COPY lattice_cedar lattice_cedar
COPY lattice_tunnel lattice_tunnel
COPY lattice_cell lattice_cell
COPY lattice_agent lattice_agent
COPY lattice_operator lattice_operator
COPY lattice_dev lattice_dev
COPY lattice_proto lattice_proto
# Wheels for Lattice and every dependency; httptools is the hook server's fast HTTP parser.
RUN pip wheel --no-cache-dir --wheel-dir /wheels . httptools

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels lattice httptools
USER 65532:65532
EXPOSE 8080
CMD ["lattice-hooks", "--host", "0.0.0.0", "--port", "8080"]
