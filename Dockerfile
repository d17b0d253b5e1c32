FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY contracts ./contracts
RUN pip install --no-cache-dir -e .
EXPOSE 8000
# `serve` migrates to head and loads the reference data before it listens.
CMD ["ivsettle", "serve", "--host", "0.0.0.0", "--port", "8000"]
