// MQTT.js (the client zigbee2mqtt uses) against a broker on 127.0.0.1:PORT, reproducing
// zigbee2mqtt's pattern for MQTT 3.1.1 and 5.0: a retained `bridge/state` of "online" with
// a retained will of "offline", a `#` subscription, QoS 1 device publishes, and a Home
// Assistant-like observer. Prints one line per check; exits 1 on the first failure. Every
// wait is bounded.
import mqtt from "mqtt";

const port = Number(process.argv[2]);
const TIMEOUT = 5000;

function fail(what) {
  console.log(`FAIL ${what}`);
  process.exit(1);
}
function check(cond, what) {
  if (!cond) fail(what);
  console.log(`ok ${what}`);
}

function connect(clientId, protocolVersion, extra = {}) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      clientId,
      protocolVersion,
      reconnectPeriod: 0,
      connectTimeout: TIMEOUT,
      ...extra,
    });
    const timer = setTimeout(() => reject(new Error(`${clientId}: no CONNACK`)), TIMEOUT);
    client.messages = [];
    client.waiters = [];
    client.on("message", (topic, payload, packet) => {
      client.messages.push({ topic, payload: payload.toString(), packet });
      client.waiters.splice(0).forEach((w) => w());
    });
    client.once("connect", () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// The first message on `topic` (earlier ones on other topics are skipped).
function next(client, topic, what) {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => fail(`${what}: nothing on ${topic}`), TIMEOUT);
    const look = () => {
      const i = client.messages.findIndex((m) => m.topic === topic);
      if (i >= 0) {
        clearTimeout(deadline);
        resolve(client.messages.splice(0, i + 1)[i]);
      } else {
        client.waiters.push(look);
      }
    };
    look();
  });
}

async function scenario(v) {
  const base = `z2m${v}`;
  const state = `${base}/bridge/state`;
  const bridge = await connect(`${base}-bridge`, v, {
    will: { topic: state, payload: "offline", qos: 1, retain: true },
  });
  await bridge.publishAsync(state, "online", { qos: 1, retain: true });
  await bridge.subscribeAsync(`${base}/#`, { qos: 1 });
  check(true, `v${v} bridge connected with a retained will, state online, subscribed to #`);

  const ha = await connect(`${base}-ha`, v);
  await ha.subscribeAsync(`${base}/#`, { qos: 1 });
  const retained = await next(ha, state, "retained state");
  check(retained.payload === "online" && retained.packet.retain, `v${v} observer gets retained "online" with RETAIN 1`);

  for (let i = 0; i < 20; i++) {
    await bridge.publishAsync(`${base}/sensor_${i % 4}`, JSON.stringify({ temperature: 20 + i, seq: i }), { qos: 1 });
  }
  const seen = [];
  for (let i = 0; i < 20; i++) {
    const m = await next(ha, `${base}/sensor_${i % 4}`, `device message ${i}`);
    seen.push(JSON.parse(m.payload).seq);
  }
  check(JSON.stringify(seen) === JSON.stringify([...Array(20).keys()]), `v${v} 20 QoS 1 device messages, in order`);
  // The bridge's own `#` subscription sees its messages too (no No Local by default).
  await next(bridge, `${base}/sensor_3`, "own message");
  check(true, `v${v} the bridge's # subscription receives its own publishes`);

  ha.on("error", () => {});
  // The bridge dies without DISCONNECT: its will flips the retained state.
  bridge.stream.destroy();
  const will = await next(ha, state, "will");
  check(will.payload === "offline", `v${v} will "offline" published when the bridge dies`);
  await ha.endAsync();

  const late = await connect(`${base}-late`, v);
  await late.subscribeAsync(state, { qos: 1 });
  const now = await next(late, state, "retained will");
  check(now.payload === "offline" && now.packet.retain, `v${v} the retained state is now "offline"`);
  await late.endAsync();
}

try {
  await scenario(4);
  await scenario(5);
  console.log("ALL OK");
  process.exit(0);
} catch (err) {
  fail(String(err));
}
