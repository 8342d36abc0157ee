# The app in a container: the README's install (`make install`), then `streamlit run app.py`.
# UNTESTED: the machines this project is built on have no Docker engine, so this file has never
# been built. It follows the README's set-up step for step.
FROM python:3.11-slim

# make runs the README's install; Graphviz draws the graphs (the install would apt-get it too).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make graphviz \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt Makefile ./
# torch first, in a step of its own, from PyTorch's CPU index: the default index's torch for Linux is the
# CUDA build (several GB). The version is requirements.txt's pin; the install below then finds it there.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "$(grep '^torch==' requirements.txt)"
RUN make install
COPY . .

# One replica per container; several containers behind deploy/nginx.conf.template scale it out
# (give each the same STREAMLIT_SERVER_COOKIE_SECRET).
EXPOSE 8501
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.port", "8501", "--server.address", "0.0.0.0"]
