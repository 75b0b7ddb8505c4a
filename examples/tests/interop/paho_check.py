#!/usr/bin/env python3
"""paho-mqtt (the Python client Home Assistant uses) against a broker on 127.0.0.1:PORT.

Scenarios for MQTT 3.1.1 and 5.0: QoS 0/1/2 round trips, retained, will on an abrupt
close, persistent session resume, shared subscriptions, and (v5) user properties, response
topic and correlation data. Prints one line per check and exits 1 on the first failure.
Every wait is bounded.
"""
import queue
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

PORT = int(sys.argv[1])
TIMEOUT = 5.0


def fail(what):
    print(f"FAIL {what}", flush=True)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)
    print(f"ok {what}", flush=True)


class Client:
    """A paho client on its own network thread; messages land in a queue."""

    def __init__(self, client_id, version, clean=True, will=None, expiry=None):
        self.version = version
        proto = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        kwargs = {"client_id": client_id, "protocol": proto}
        if version != 5:
            kwargs["clean_session"] = clean
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_connect = lambda c, u, f, rc, p: self.connacks.put((f, rc))
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(rcs)
        if will:
            self.c.will_set(*will)
        if version == 5:
            props = Properties(PacketTypes.CONNECT)
            if expiry is not None:
                props.SessionExpiryInterval = expiry
            self.c.connect("127.0.0.1", PORT, keepalive=30, clean_start=clean, properties=props)
        else:
            self.c.connect("127.0.0.1", PORT, keepalive=30)
        self.c.loop_start()
        flags, rc = self.connacks.get(timeout=TIMEOUT)
        if rc.is_failure:
            fail(f"{client_id} refused: {rc}")
        self.session_present = flags.session_present

    def subscribe(self, topic, qos):
        self.c.subscribe(topic, qos)
        codes = self.subacks.get(timeout=TIMEOUT)
        check(not any(rc.is_failure for rc in codes), f"v{self.version} SUBACK for {topic}")

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(timeout=TIMEOUT)
        if not info.is_published():
            fail(f"v{self.version} publish {topic} QoS {qos} not acknowledged")

    def next(self, what):
        try:
            return self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            fail(f"v{self.version} nothing arrived: {what}")

    def nothing(self, seconds=0.5):
        try:
            m = self.messages.get(timeout=seconds)
            fail(f"v{self.version} unexpected message {m.topic} {m.payload!r}")
        except queue.Empty:
            pass

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()

    def die(self):
        """Closes the socket without DISCONNECT."""
        self.c.loop_stop()
        self.c.socket().close()


def scenarios(v):
    tag = f"v{v}"
    sub = Client(f"paho-sub-{v}", v)
    pub = Client(f"paho-pub-{v}", v)
    sub.subscribe(f"paho/{v}/#", 2)
    for qos in (0, 1, 2):
        pub.publish(f"paho/{v}/q{qos}", f"m{qos}", qos=qos)
        m = sub.next(f"QoS {qos}")
        check(m.topic == f"paho/{v}/q{qos}" and m.payload == f"m{qos}".encode() and m.qos == qos,
              f"{tag} QoS {qos} round trip")

    # Retained: stored, sent with RETAIN to a new subscriber, deleted by an empty payload.
    pub.publish(f"paho/{v}/state", "on", qos=1, retain=True)
    sub.next("live copy of the retained message")
    late = Client(f"paho-late-{v}", v)
    late.subscribe(f"paho/{v}/state", 1)
    m = late.next("retained on subscribe")
    check(m.payload == b"on" and m.retain, f"{tag} retained message with RETAIN 1")
    pub.publish(f"paho/{v}/state", "", qos=1, retain=True)
    late.close()
    later = Client(f"paho-later-{v}", v)
    later.subscribe(f"paho/{v}/state", 1)
    later.nothing()
    check(True, f"{tag} empty retained payload deleted it")
    later.close()

    # Will on an abrupt close.
    doomed = Client(f"paho-doomed-{v}", v, will=(f"paho/{v}/will", "gone", 1, False))
    doomed.die()
    m = sub.next("will")
    while m.topic != f"paho/{v}/will":
        m = sub.next("will")
    check(m.payload == b"gone", f"{tag} will published on an abrupt close")

    # Persistent session: subscribe, leave, message queued, come back.
    kw = {"clean": False}
    if v == 5:
        kw["expiry"] = 600
    p = Client(f"paho-persist-{v}", v, **kw)
    p.subscribe(f"paho/{v}/queued", 1)
    p.close()
    pub.publish(f"paho/{v}/queued", "kept", qos=1)
    p = Client(f"paho-persist-{v}", v, **kw)
    check(p.session_present, f"{tag} session present on resume")
    m = p.next("queued message")
    check(m.payload == b"kept", f"{tag} message queued while offline delivered on resume")
    p.close()

    # Shared subscription: each message to one member.
    a = Client(f"paho-share-a-{v}", v)
    b = Client(f"paho-share-b-{v}", v)
    a.subscribe(f"$share/workers/paho/{v}/jobs", 1)
    b.subscribe(f"$share/workers/paho/{v}/jobs", 1)
    for i in range(10):
        pub.publish(f"paho/{v}/jobs", f"job{i}", qos=1)
    got = []
    deadline = time.time() + TIMEOUT
    while len(got) < 10 and time.time() < deadline:
        for member in (a, b):
            try:
                got.append(member.messages.get(timeout=0.1).payload)
            except queue.Empty:
                pass
    check(sorted(got) == sorted(f"job{i}".encode() for i in range(10)),
          f"{tag} shared subscription: each of 10 messages to exactly one member")
    check(a.messages.empty() and b.messages.empty(), f"{tag} shared subscription: no extra copies")
    a.close()
    b.close()

    if v == 5:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("trace", "42"), ("trace", "43")]
        props.ResponseTopic = "paho/5/reply"
        props.CorrelationData = b"\x01\x02"
        pub.publish("paho/5/req", "ask", qos=1, properties=props)
        m = sub.next("request with properties")
        while m.topic != "paho/5/req":
            m = sub.next("request with properties")
        mp = m.properties
        check(getattr(mp, "UserProperty", None) == [("trace", "42"), ("trace", "43")],
              "v5 user properties forwarded in order")
        check(mp.ResponseTopic == "paho/5/reply" and mp.CorrelationData == b"\x01\x02",
              "v5 response topic and correlation data forwarded")

    sub.close()
    pub.close()


for version in (4, 5):
    scenarios(version)
print("ALL OK", flush=True)
