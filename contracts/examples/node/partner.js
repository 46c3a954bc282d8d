// A chain partner in Node, with no code of the migratieketen project: it loads the
// contract's .proto files with protobufjs, publishes an arrival report with every
// CloudEvents header (kafkajs), then reads bvv.registered.v1 for the V-nummer the BVV
// gave its report and case.outcome.v1 for the case's outcome. Delivery is at least
// once, so it drops repeats by ce_id. Synthetic data only.
//
//   npm install --prefix contracts/examples/node
//   node contracts/examples/node/partner.js
//
// Settings (environment): BOOTSTRAP_SERVERS (default 127.0.0.1:9092), PARTNER_REFERENCE
// (default a fresh KMAR-NODE-... reference), TIMEOUT_SECONDS (default 180).
// Prints one JSON line {"partner_reference", "v_nummer", "outcome"} and exits 0, or
// exits 1 when no outcome arrived in time.

"use strict";

const crypto = require("node:crypto");
const path = require("node:path");
const protobuf = require("protobufjs");
const { Kafka, logLevel } = require("kafkajs");

const CONTRACTS = path.resolve(__dirname, "..", "..");
const BOOTSTRAP = (process.env.BOOTSTRAP_SERVERS || "127.0.0.1:9092").split(",");
const REFERENCE =
  process.env.PARTNER_REFERENCE ||
  `KMAR-NODE-${crypto.randomBytes(6).toString("hex").toUpperCase()}`;
const TIMEOUT_MS = Number(process.env.TIMEOUT_SECONDS || 180) * 1000;
const TOPICS = {
  "bvv.registered.v1": "migratieketen.v1.PersonRegistered",
  "case.outcome.v1": "migratieketen.v1.CaseOutcome",
};

async function loadContract() {
  const root = new protobuf.Root();
  // Imports name files relative to contracts/; google/protobuf/*.proto are built in.
  root.resolvePath = (_origin, target) =>
    target.startsWith("google/protobuf/") ? target : path.join(CONTRACTS, target);
  await root.load(
    ["arrival", "bvv", "outcome"].map((name) => `migratieketen/v1/${name}.proto`),
    { keepCase: true },
  );
  return root;
}

function arrivalReport(ArrivalReport) {
  const now = Math.floor(Date.now() / 1000);
  const year = new Date().getUTCFullYear() - 30;
  const report = ArrivalReport.fromObject({
    partner_reference: REFERENCE,
    reporting_partner: "PARTNER_KMAR",
    setting: "ARRIVAL_SETTING_EXTERNAL_BORDER",
    reason: "ARRIVAL_REASON_IRREGULAR_CROSSING",
    location: "Schiphol",
    reported_at: { seconds: now },
    claimed_identity: {
      family_name: "Voorbeeld",
      given_names: "Testpersoon",
      date_of_birth: { year, month: 1, day: 14 },
      gender: "GENDER_MALE",
      nationalities: ["MAR"],
      source_level: "PIL_SOURCE_LEVEL_OWN_STATEMENT",
    },
    biometrics: {
      template_reference: `${REFERENCE}-BIO`,
      template_hash: crypto.createHash("sha256").update(`node|${REFERENCE}`).digest("hex"),
      captured_at: { seconds: now },
    },
    claimed_age: 30,
    accompanied: true,
    asylum_requested: false,
    languages: ["ar"],
    countries_of_residence: ["MAR"],
  });
  const problem = ArrivalReport.verify(report);
  if (problem) throw new Error(`invalid ArrivalReport: ${problem}`);
  return ArrivalReport.encode(report).finish();
}

function headers(ceType, subject) {
  return {
    ce_specversion: "1.0",
    ce_id: crypto.randomUUID(), // a resend of this same report must keep this id
    ce_type: ceType,
    ce_source: "/partners/kmar",
    ce_subject: subject,
    ce_time: new Date().toISOString(),
    "content-type": "application/protobuf",
    traceparent: `00-${crypto.randomBytes(16).toString("hex")}-${crypto.randomBytes(8).toString("hex")}-01`,
  };
}

async function main() {
  const root = await loadContract();
  const kafka = new Kafka({
    clientId: "kmar-node-example",
    brokers: BOOTSTRAP,
    logLevel: logLevel.WARN,
  });

  const producer = kafka.producer({ allowAutoTopicCreation: false }); // not idempotent
  await producer.connect();
  await producer.send({
    topic: "arrival.reported.v1",
    acks: -1,
    messages: [
      {
        key: REFERENCE,
        value: Buffer.from(arrivalReport(root.lookupType("migratieketen.v1.ArrivalReport"))),
        headers: headers("nl.migratieketen.arrival.reported.v1", REFERENCE),
      },
    ],
  });
  await producer.disconnect();
  console.error(`published arrival report ${REFERENCE}`);

  const seen = new Set(); // ce_ids processed: at-least-once delivery, drop repeats
  const outcomes = new Map(); // V-nummer -> outcome, for outcomes read before the V-nummer
  let vNummer = null;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const consumer = kafka.consumer({ groupId: `kmar-node-example-${REFERENCE}` });
  await consumer.connect();
  await consumer.subscribe({ topics: Object.keys(TOPICS), fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      const ceId = (message.headers.ce_id || "").toString();
      if (!ceId || seen.has(ceId)) return;
      seen.add(ceId);
      const event = root.lookupType(TOPICS[topic]).decode(message.value);
      if (topic === "bvv.registered.v1") {
        if (event.arrival && event.arrival.partner_reference === REFERENCE) {
          vNummer = event.v_nummer;
          console.error(`registered as V-nummer ${vNummer}`);
        }
      } else {
        const Outcome = root.lookupEnum("migratieketen.v1.Outcome");
        outcomes.set(event.v_nummer, Outcome.valuesById[event.outcome]);
      }
      if (vNummer !== null && outcomes.has(vNummer)) finish(outcomes.get(vNummer));
    },
  });
  const timer = setTimeout(() => finish(null), TIMEOUT_MS);
  const outcome = await done;
  clearTimeout(timer);
  await consumer.disconnect();
  if (outcome === null) {
    console.error(`no outcome for ${REFERENCE} within ${TIMEOUT_MS / 1000} s`);
    process.exit(1);
  }
  console.log(JSON.stringify({ partner_reference: REFERENCE, v_nummer: vNummer, outcome }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
