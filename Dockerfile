# lienthong hub image: the package and its console script, nothing else.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LIENTHONG_LOG_FORMAT=json
WORKDIR /app
COPY pyproject.toml README.md ./
COPY router ./router
COPY adapters ./adapters
COPY schemas ./schemas
COPY signing ./signing
COPY ops ./ops
RUN pip install --no-cache-dir '.[s3]' && useradd --system --home /var/lib/lienthong lienthong \
    && mkdir -p /var/lib/lienthong && chown lienthong /var/lib/lienthong
USER lienthong
WORKDIR /var/lib/lienthong
ENTRYPOINT ["lienthong"]
CMD ["run", "--role", "all"]
