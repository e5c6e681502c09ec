# One image for every process of the pipeline; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . && useradd --create-home notify
USER notify
ENV PYTHONUNBUFFERED=1
CMD ["notify-ingress"]
