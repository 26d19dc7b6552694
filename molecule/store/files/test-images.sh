#!/bin/sh
# Builds the service store's test images from a static busybox (Debian's busybox-static), pushes them
# to a registry and writes a test index of their manifests, pinned by digest. Nothing is pulled
# from outside. Run as root on a host with podman and busybox-static:
#   test-images.sh REGISTRY(host:port) OUTDIR
# hello 1.0.0: a tiny HTTP app; on its first start it writes a random token into its volume
#   (/data/www/created), which later versions and reinstalls must find again.
# hello 2.0.0: broken: it overwrites the token (as a bad migration would) and exits.
# hello 1.1.0: a good upgrade of 1.0.0.
set -eu
REGISTRY=$1
OUT=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

build() {  # build NAME VERSION START-SCRIPT
  root="$WORK/$1-$2"
  mkdir -p "$root/bin" "$root/data" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for cmd in sh httpd cat mkdir echo sleep; do ln -sf busybox "$root/bin/$cmd"; done
  printf '%s\n' "$3" > "$root/start.sh"
  tar -C "$root" -c . | podman import --change 'CMD ["/bin/sh", "/start.sh"]' - "$REGISTRY/pic-test/$1:$2" >/dev/null
  podman push --digestfile "$WORK/digest" "$REGISTRY/pic-test/$1:$2" >/dev/null 2>&1
  cat "$WORK/digest"
}

GOOD='mkdir -p /data/www
[ -f /data/www/created ] || cat /proc/sys/kernel/random/uuid > /data/www/created
echo "hello $APP_VERSION" > /data/www/index.html
echo ok > /data/www/health
exec httpd -f -p 8000 -h /data/www'
BROKEN='echo broken > /data/www/created
exit 1'

V1=$(build hello 1.0.0 "$GOOD")
V11=$(build hello 1.1.0 "$GOOD")
V2=$(build hello 2.0.0 "$BROKEN")

manifest() {  # manifest VERSION DIGEST
  cat <<MANIFEST
  - id: hello
    name: Hello
    version: "$1"
    description: A tiny HTTP app that keeps a token in its volume.
    image: $REGISTRY/pic-test/hello@$2
    ports: [8000]
    routes:
      - {host: hello, port: 8000, login: false}
      - {path: /hello, port: 8000, login: true}
    volumes:
      - {name: data, path: /data}
    environment:
      APP_VERSION: "$1"
      APP_SECRET: {secret: 32}
    health: {port: 8000, path: /health}
    memory: 32
    disk: 20
MANIFEST
}

{
  echo "# The service store's test index: images built by test-images.sh, pinned by digest."
  echo "apps:"
  manifest 1.0.0 "$V1"
  manifest 1.1.0 "$V11"
  manifest 2.0.0 "$V2"
} > "$OUT/index.yml"
echo "$OUT/index.yml"
