# ccpulse: one image for every role (worker, api, topics, simulate, replay, schemas).
#   docker build -t ccpulse .
#   docker run --rm -e CCPULSE_BOOTSTRAP_SERVERS=kafka:9092 -p 8000:8000 ccpulse api
# docker-compose.yml runs the whole stack with Apache Kafka.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Copy only what the package is built from, so editing tests or docs keeps the install layer cached.
# README* is a glob so the build also works while the README does not exist yet.
WORKDIR /src
COPY pyproject.toml README* ./
COPY ccpulse ./ccpulse
COPY streams ./streams
COPY api ./api
COPY schemas ./schemas
COPY bench ./bench
# Every dependency (rocksdict included) ships manylinux wheels for CPython 3.11: no compiler needed.
# The source tree is removed afterwards so `python -m ccpulse` can only import the installed package.
RUN pip install ".[rocksdb]" \
 && cd / && rm -rf /src

# Never run as root: the worker writes its RocksDB state to /data, which this user owns.
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/ccpulse \
        --shell /usr/sbin/nologin ccpulse \
 && mkdir -p /data \
 && chown ccpulse:ccpulse /data
USER ccpulse
WORKDIR /data

# Inside a container the API must listen on all interfaces to be reachable through a published port.
ENV CCPULSE_DATA_DIR=/data \
    CCPULSE_API_HOST=0.0.0.0
EXPOSE 8000

ENTRYPOINT ["ccpulse"]
CMD ["--help"]
