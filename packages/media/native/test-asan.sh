#!/usr/bin/env bash
# npm run test:native-asan: builds the native packet core with AddressSanitizer and runs
# the native tests (the core's own, the hostile-datagram fuzz, the 10,000-transport
# leak check, the transport's and the bridge's tests on the native path) against that build. Node itself
# is not instrumented, so the ASan runtime is preloaded; leak detection is off because
# Node keeps memory to its exit by design (the leak test counts what the core holds).
set -euo pipefail
cd "$(dirname "$0")/../../.."

node packages/media/native/build.mjs --asan
CXX_BIN=${CXX:-$(command -v c++ || command -v g++)}
ASAN_LIB=$("$CXX_BIN" -print-file-name=libasan.so)
if [ ! -e "$ASAN_LIB" ]; then
  echo "roundtable packet core: the AddressSanitizer runtime ($ASAN_LIB) is missing" >&2
  exit 1
fi

export ROUNDTABLE_PACKET_CORE=native
export ROUNDTABLE_PACKET_CORE_ADDON="$PWD/packages/media/native/build-asan/packet_core.node"
export LD_PRELOAD="$ASAN_LIB"
# A 16 MB quarantine (default 256 MB) still catches use after free, and leaves the leak
# test's RSS bound measuring our memory rather than ASan's.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:verify_asan_link_order=0:quarantine_size_mb=16"

npx vitest run \
  packages/media/src/native/PacketCore.test.ts \
  packages/media/src/native/fuzz.test.ts \
  packages/media/src/native/leak.test.ts \
  packages/media/src/transport/WebRtcTransport.lite.test.ts \
  packages/media/src/transport/WebRtcTransport.ice.test.ts \
  packages/media/src/room/TransportBridge.test.ts
