#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (Jazzer's layout: <package>/<Class>Inputs/<method>/).

A handful of valid inputs and edge cases per target; the fuzzer mutates from these. Run from the
repository root; files are rewritten, crash inputs kept by hand beside them are left alone.
"""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(module, package, cls, method, seeds):
    d = os.path.join(ROOT, module, "src/test/resources", package.replace(".", "/"), cls + "Inputs", method)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())


def varint(v):
    if v < 1 << 6:
        return bytes([v])
    if v < 1 << 14:
        return struct.pack(">H", v | 0x4000)
    if v < 1 << 30:
        return struct.pack(">I", v | 0x80000000)
    return struct.pack(">Q", v | 0xC000000000000000)


def masque():
    m, p, c = "bundles/masque", "io.cloudbridge.masque.internal", "WireFormatFuzzTest"
    write(m, p, c, "varInt", {
        "one-byte": varint(37), "two-bytes": varint(15293), "four-bytes": varint(494878333),
        "eight-bytes": varint((1 << 62) - 1), "non-shortest": b"\x40\x25", "cut": b"\xc2\x19\x7c",
        "several": varint(0) + varint(300) + varint(70000)})
    ipv4 = bytes([4]) + bytes([192, 0, 2, 1]) + bytes([32])
    ipv6 = bytes([6]) + bytes(range(16)) + bytes([64])
    datagram = varint(0) + varint(5) + b"\x00abcd"
    assign = varint(1) + varint(len(varint(0) + ipv4)) + varint(0) + ipv4
    write(m, p, c, "capsuleStream", {
        "datagram-whole": b"\x3f" + datagram, "datagram-straddling": b"\x02" + datagram + datagram,
        "address-assign": b"\x10" + assign, "unknown-type-skipped": b"\x05" + varint(0x2A) + varint(3) + b"xyz" + datagram,
        "too-long-known": b"\x08" + varint(1) + varint(5000), "cut-short": b"\x08" + varint(0) + varint(10) + b"ab",
        "empty-frames": b"\x00" + datagram})
    write(m, p, c, "httpDatagram", {
        "udp-payload": varint(1) + varint(0) + b"payload", "no-context": varint(2), "other-context": varint(1) + varint(7) + b"x",
        "long-stream-id": varint(1 << 40) + varint(0), "empty": b""})
    write(m, p, c, "addressCapsule", {
        "ipv4": varint(0) + ipv4, "ipv6": varint(9) + ipv6, "both": varint(1) + ipv4 + varint(2) + ipv6,
        "bad-prefix": varint(0) + bytes([4, 10, 0, 0, 1, 33]), "bad-version": varint(0) + bytes([5, 1, 2, 3, 4, 8]),
        "cut": varint(0) + bytes([6, 1, 2])})
    r4 = bytes([4, 10, 0, 0, 0, 10, 0, 0, 255, 0])
    r4b = bytes([4, 10, 0, 1, 0, 10, 0, 1, 255, 0])
    r6 = bytes([6]) + bytes(16) + b"\xff" * 16 + bytes([17])
    write(m, p, c, "routeCapsule", {
        "one-v4": r4, "ordered": r4 + r4b + r6, "overlap": r4 + r4, "wrong-order": r6 + r4,
        "start-above-end": bytes([4, 10, 0, 0, 9, 10, 0, 0, 1, 0]), "cut": r4[:7], "mixed": bytes([4, 1, 2, 3, 4, 6])})
    v4 = bytearray(28)
    v4[0] = 0x45; v4[2:4] = struct.pack(">H", 28); v4[9] = 17; v4[12:16] = bytes([10, 0, 0, 1]); v4[16:20] = bytes([10, 0, 0, 2])
    v6 = bytearray(48)
    v6[0] = 0x60; v6[4:6] = struct.pack(">H", 8); v6[6] = 17; v6[23] = 1; v6[39] = 2
    write(m, p, c, "ipHeader", {
        "ipv4-udp": bytes(v4), "ipv6-udp": bytes(v6), "ipv4-short-total": bytes(v4[:2]) + b"\x00\x14" + bytes(v4[4:]),
        "ipv4-options": b"\x4f" + bytes(v4[1:]), "empty": b"", "v5": b"\x50" + bytes(30)})
    write(m, p, c, "requestPath", {
        "host-port": "/.well-known/masque/udp/192.0.2.6/443/", "ipv6": "/.well-known/masque/udp/2001%3Adb8%3A%3A42/53/",
        "name": "/.well-known/masque/udp/example.com/53/", "bad-percent": "/.well-known/masque/udp/a%zz/1/",
        "cut-percent": "/.well-known/masque/udp/a%4/1/", "other": "/.well-known/masque/ip/*/*/"})


def ipv4(src, dst, proto=1, payload=b"\x08\x00\x00\x00\x00\x01\x00\x01"):
    h = bytearray(20)
    h[0] = 0x45; h[2:4] = struct.pack(">H", 20 + len(payload)); h[8] = 64; h[9] = proto
    h[12:16] = bytes(src); h[16:20] = bytes(dst)
    return bytes(h) + payload


def ipv6(src_last, dst_last, payload=b"\x80\x00\x00\x00\x00\x01\x00\x01"):
    h = bytearray(40)
    h[0] = 0x60; h[4:6] = struct.pack(">H", len(payload)); h[6] = 58; h[7] = 64
    h[8] = 0xfd; h[23] = src_last; h[24] = 0xfd; h[39] = dst_last
    return bytes(h) + payload


def wireguard():
    m, p, c = "bundles/wireguard", "io.cloudbridge.wireguard.internal.device", "ReceivedDatagramFuzzTest"
    init = b"\x01\x00\x00\x00" + struct.pack("<I", 1) + bytes(range(32)) + bytes(48) + bytes(28) + bytes(32)
    resp = b"\x02\x00\x00\x00" + struct.pack("<II", 2, 7) + bytes(range(32)) + bytes(16) + bytes(32)
    cookie = b"\x03\x00\x00\x00" + struct.pack("<I", 7) + bytes(24) + bytes(32)
    transport = b"\x04\x00\x00\x00" + struct.pack("<IQ", 7, 0) + bytes(16)
    write(m, p, c, "datagram", {
        "initiation": b"\x00" + init, "initiation-mac1": b"\x01" + init, "response-mac1": b"\x01" + resp,
        "cookie-reply": b"\x00" + cookie, "transport-unknown-index": b"\x00" + transport,
        "stun-like": b"\x00" + b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12),
        "sealed-ipv4-echo": b"\x02" + ipv4([10, 0, 0, 2], [10, 0, 0, 1]),
        "sealed-ipv6-echo": b"\x02" + ipv6(2, 1), "sealed-keepalive": b"\x02",
        "sealed-spoofed-source": b"\x02" + ipv4([10, 0, 0, 9], [10, 0, 0, 1]),
        "sealed-padded": b"\x02" + ipv4([10, 0, 0, 2], [10, 0, 0, 1]) + bytes(12),
        "sealed-short-total": b"\x02" + b"\x45\x00\x00\x05" + bytes(16)})


def stun_request(attrs=b"", tid=bytes(range(12)), fingerprint=True):
    body = attrs
    msg = struct.pack(">HHI", 1, len(body) + (8 if fingerprint else 0), 0x2112A442) + tid + body
    if fingerprint:
        import zlib
        crc = (zlib.crc32(msg) ^ 0x5354554E) & 0xffffffff
        msg += struct.pack(">HHI", 0x8028, 4, crc)
    return msg


def relay():
    m, p, c = "bundles/relay", "io.cloudbridge.relay.internal", "StunBindingFuzzTest"
    write(m, p, c, "datagram", {
        "v4-binding": b"\x00" + stun_request(fingerprint=False), "v6-binding": b"\x01" + stun_request(fingerprint=False),
        "binding-fingerprint": b"\x00" + stun_request(),
        "unknown-required": b"\x00" + stun_request(struct.pack(">HH", 0x0006, 4) + b"user", fingerprint=False),
        "optional-attribute": b"\x00" + stun_request(struct.pack(">HH", 0x8022, 3) + b"abc\x00"),
        "bad-fingerprint": b"\x00" + stun_request()[:-1] + b"\x00", "rfc3489": b"\x00" + b"\x00\x01\x00\x00" + bytes(16),
        "response": b"\x00" + b"\x01\x01" + stun_request(fingerprint=False)[2:], "short": b"\x00\x00\x01"})


def ice():
    m, p, c = "bundles/ice", "io.cloudbridge.ice.internal", "IceWireFuzzTest"
    xor_mapped = struct.pack(">HHBBH", 0x0020, 8, 0, 1, 40000 ^ 0x2112) + bytes(b ^ k for b, k in zip([192, 0, 2, 1], [0x21, 0x12, 0xa4, 0x42]))
    success = bytearray(stun_request(xor_mapped)); success[0:2] = b"\x01\x01"
    import zlib
    success = bytes(success[:-4]) + struct.pack(">I", (zlib.crc32(bytes(success[:-8])) ^ 0x5354554E) & 0xffffffff)
    check = stun_request(struct.pack(">HH", 0x0006, 9) + b"bob:alice\x00\x00\x00" + struct.pack(">HHI", 0x0024, 4, 1862270975)
                         + struct.pack(">HHQ", 0x802A, 8, 42) + struct.pack(">HH", 0x0025, 0)
                         + struct.pack(">HH", 0x0008, 20) + bytes(20))
    write(m, p, c, "stunDatagram", {
        "binding": stun_request(), "success-xor-mapped": success, "check": check,
        "channel-data": b"\x40\x00\x00\x04abcd", "data-indication": b"\x00\x17" + stun_request(fingerprint=False)[2:],
        "cut-length": stun_request()[:-3]})
    offer = ("ufrag abcd\npwd abcdefghijklmnopqrstuvwx\nanswer wanted\n"
             "candidate:host 1 udp 2130706431 192.0.2.1 40000 typ host\n"
             "candidate:srflx 1 udp 1694498815 2001:db8::1 40001 typ srflx\n")
    write(m, p, c, "offer", {
        "two-candidates": offer, "no-candidates": "ufrag abcd\npwd abcdefghijklmnopqrstuvwx\nanswer not-wanted\n",
        "bad-port": offer.replace("40000", "70000"), "name-not-literal": offer.replace("192.0.2.1", "example.com"),
        "unknown-line": offer + "foo bar\n", "missing-pwd": "ufrag abcd\nanswer wanted\n"})


def control_relay():
    m, p, c = "bundles/control-relay", "io.cloudbridge.control.relay.internal", "NodeTokenFuzzTest"
    import base64, json
    def b64(o):
        raw = o if isinstance(o, bytes) else json.dumps(o).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    claims = {"iss": "relay", "aud": "cloudbridge-node", "sub": "n1", "tenant": "acme", "node_key": "key",
              "exp": 1795000000, "iat": 1795000000 - 900}
    write(m, p, c, "presentedToken", {
        "es256-unknown-kid": b64({"alg": "ES256", "kid": "k1", "typ": "JWT"}) + "." + b64(claims) + "." + b64(bytes(64)),
        "alg-none": b64({"alg": "none"}) + "." + b64(claims) + ".",
        "hs256": b64({"alg": "HS256", "kid": "k1"}) + "." + b64(claims) + "." + b64(bytes(32)),
        "two-parts": b64({"alg": "ES256"}) + "." + b64(claims), "not-json": b64(b"{{") + "." + b64(b"[") + "." + b64(b"x"),
        "empty": ""})


def launcher():
    m = "launcher"
    write(m, "io.cloudbridge.boot.admin", "AdminProtocolFuzzTest", "requests", {
        "status": struct.pack(">I", 9) + b"cb:status", "two": struct.pack(">I", 4) + b"help" + struct.pack(">I", 12) + b"feature:list",
        "empty-command": struct.pack(">I", 0), "too-long": struct.pack(">I", 65537) + b"x",
        "negative": b"\xff\xff\xff\xff", "cut-header": b"\x00\x00", "cut-payload": struct.pack(">I", 10) + b"abc",
        "bad-utf8": struct.pack(">I", 2) + b"\xc3\x28", "utf8": struct.pack(">I", 6) + "wg:é€".encode()})
    write(m, "io.cloudbridge.boot.admin", "AdminProtocolFuzzTest", "responses", {
        "ok": struct.pack(">I", 3) + b"\x00ok", "failed": struct.pack(">I", 5) + b"\x01fail", "empty": struct.pack(">I", 0),
        "cut": struct.pack(">I", 9) + b"\x00a", "nothing": b"", "cut-utf8": struct.pack(">I", 2) + b"\x00\xe2"})
    write(m, "io.cloudbridge.boot.config", "ConfigFuzzTest", "yamlFile", {
        "sections": "kernel:\n  features: [relay, masque]\nmetrics:\n  bindAddress: 127.0.0.1\n  port: 9100\n",
        "empty-section": "logging:\n", "nested": "a:\n  b:\n    c: 1\n", "duplicate": "a:\n  x: 1\n  x: 2\n",
        "bad-section": "Kernel:\n  x: 1\n", "not-a-map": "- a\n- b\n", "anchor": "a: &x\n  k: [1, 2]\nb: *x\n",
        "unclosed": "a:\n  k: [1, 2\n", "null-key": "a:\n  ~: 1\n", "tabs": "a:\n\tk: 1\n",
        "secret": "control:\n  preAuthKey: \"1e3\"\n"})
    write(m, "io.cloudbridge.boot.config", "ConfigFuzzTest", "overrides", {
        "cli": "metrics.port=9100\nkernel.features=relay", "env": "\nCLOUDBRIDGE_METRICS_PORT=9100\nCLOUDBRIDGE_X=1",
        "bad-cli": "noequals\n.k=v\nA.b=c", "both": "a.b=c\n\nCLOUDBRIDGE_A_B=d\nCLOUDBRIDGE_HOME=/x"})
    write(m, "io.cloudbridge.boot.feature", "FeatureFileFuzzTest", "featureFile", {
        "feature": "description: WebSocket transport\nrequires: [core]\nbundles:\n  - io.cloudbridge.transport.websocket\n",
        "base": "base: true\nbundles: [org.apache.felix.scr]\n", "not-a-list": "bundles: a\n", "scalar": "just text\n",
        "empty": "", "aliases": "a: &x [1, 2]\nbundles: *x\n", "deep": "[" * 200 + "]" * 200, "bad-yaml": "a: [\n"})


def transport_quic():
    m, p, c = "bundles/transport-quic", "io.cloudbridge.transport.quic.internal", "ControlLineFuzzTest"
    write(m, p, c, "relayReads", {
        "auth": b"\x05AUTH eyJhbGciOiJFUzI1NiJ9.e30.sig\n", "ping": b"\x02PING\r\nPING\n", "unknown": b"\x00HELLO\n",
        "no-newline": b"\x03AUTH x", "long": b"\x01" + b"A" * 8200 + b"\n"})
    write(m, p, c, "nodeReads", {
        "ok": b"\x03OK 1380\nMTU 1200\n", "ok-bare": b"\x00OK\n", "mtu-zero": b"\x00MTU 0\n", "mtu-negative": b"\x00MTU -5\n",
        "mtu-huge": b"\x00MTU 99999999999\n", "goaway": b"\x04GOAWAY relay stopping\nGOAWAY\n", "err": b"\x00ERR token refused\n",
        "pong": b"\x01PONG\r\n"})


def ws_frame(opcode, payload, masked=True, fin=True, mask=b"\x01\x02\x03\x04"):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if masked:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def transport_websocket():
    m, p, c = "bundles/transport-websocket", "io.cloudbridge.transport.websocket.internal", "RelayFrameFuzzTest"
    packet = bytes(range(32)) + b"\x04\x00\x00\x00" + bytes(28)
    for method, masked in (("relayReads", True), ("nodeReads", False)):
        write(m, p, c, method, {
            "binary": ws_frame(2, packet, masked), "two-frames": ws_frame(2, packet, masked) + ws_frame(9, b"hi", masked),
            "close": ws_frame(8, struct.pack(">H", 1008) + b"removed", masked), "close-one-byte": ws_frame(8, b"\x03", masked),
            "close-bad-code": ws_frame(8, struct.pack(">H", 999), masked), "text": ws_frame(1, b"hello", masked),
            "fragmented": ws_frame(2, packet[:20], masked, fin=False) + ws_frame(0, packet[20:], masked),
            "too-long": bytes([0x82, (0x80 if masked else 0) | 127]) + struct.pack(">Q", 1 << 40) + b"\x01\x02\x03\x04",
            "wrong-masking": ws_frame(2, packet, not masked), "reserved-opcode": ws_frame(3, b"x", masked),
            "rsv-bits": b"\xc2" + ws_frame(2, b"x", masked)[1:]})


TARGETS = {"masque": masque, "wireguard": wireguard, "relay": relay, "ice": ice,
           "control-relay": control_relay, "launcher": launcher,
           "transport-quic": transport_quic,
           "transport-websocket": transport_websocket}

if __name__ == "__main__":
    for name in sys.argv[1:] or TARGETS:
        TARGETS[name]()
