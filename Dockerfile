# streambot in one image: `streambot run` by default, or one role of a cluster
# (`streambot feed | worker | api`, see docker-compose.yml).

# The dashboard, built once; the Python image serves it from the package's api/static/dashboard.
FROM node:20-slim AS dashboard
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=dashboard /web/dist ./src/streambot/api/static/dashboard
RUN pip install --no-cache-dir . && useradd --create-home streambot && mkdir /data && chown streambot /data
USER streambot
# Listening on every interface inside the container needs STREAMBOT_API_TOKEN (the settings refuse
# to expose the API without one).
ENV STREAMBOT_HOST=0.0.0.0 \
    STREAMBOT_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["streambot"]
CMD ["run"]
