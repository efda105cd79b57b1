FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md alembic.ini ./
COPY app app
COPY optimizer optimizer
COPY simulator simulator
COPY migrations migrations
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir -e .
ENV XBAR_HOST=0.0.0.0
EXPOSE 8000
