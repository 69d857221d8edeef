# One image for every Tandem service: `python -m services.<name>`, or `tandem migrate`.
FROM python:3.11-slim-bookworm AS build
ENV UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/tandem/.venv UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir "uv>=0.5,<1"
WORKDIR /opt/tandem
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY libs ./libs
COPY services ./services
RUN uv sync --frozen --no-dev

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin tandem
COPY --from=build /opt/tandem /opt/tandem
ENV PATH=/opt/tandem/.venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /opt/tandem
USER 10001
ENTRYPOINT ["python", "-m"]
CMD ["services.switch_api"]
