//! The command line (clap derive): subcommands and the mapping flags they share.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Journeyscope: a map of how customers move between touchpoints.
#[derive(Debug, Parser)]
#[command(name = "journeyscope", version, about, long_about = None)]
pub struct Cli {
    /// What to do; without one, the start screen.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a file or DuckDB database in the desktop app.
    Open(SourceArgs),
    /// Print the journey graph of a file or DuckDB database.
    Summarize(SummarizeArgs),
    /// Show the bundled sample data.
    Demo(DemoArgs),
    /// Export the journey map or graph of a source (format by the file's
    /// extension: map.svg, map.png, edges.csv, graph.json, graph.dot).
    Export(ExportArgs),
    /// Consume a Kafka topic live (headless: print the summary JSON).
    Live(Box<LiveArgs>),
    /// List the customers of a file or DuckDB database, as the app's
    /// Customers tab does (JSON or CSV).
    Customers(CustomersArgs),
    /// Print one customer's sessions: every event's time, touchpoint and
    /// properties (JSON or a table).
    Timeline(TimelineArgs),
    /// Replay a file or the sample data into a Kafka topic as JSON events.
    Produce(ProduceArgs),
    /// Read a topic's partitions as a member of a consumer group, without a
    /// window, and publish each partition's journeys to a state topic (see
    /// `live --state-topic`).
    Worker(Box<WorkerArgs>),
    /// Write a realistic e-commerce event file (format by extension).
    Generate(GenerateArgs),
    /// Time file → graph against DuckDB SQL on generated Parquet files.
    Bench(BenchArgs),
    /// Build the graph of one file and print time and peak memory as JSON
    /// (used by `bench` in a child process).
    #[command(hide = true)]
    BenchEngine {
        /// The Parquet file.
        path: PathBuf,
    },
}

/// Output formats of `summarize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A readable table.
    Table,
    /// The summary JSON (a stable contract).
    Json,
    /// The edges as CSV.
    Csv,
    /// Graphviz DOT.
    Dot,
}

/// Where the events come from and how they map to journeys.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// An event file (JSON lines, CSV/TSV, Parquet, optionally .gz/.zst) or a DuckDB database.
    pub path: PathBuf,
    /// DuckDB: the table or view to read.
    #[arg(long, conflicts_with = "query")]
    pub table: Option<String>,
    /// DuckDB: a SQL query whose rows are the events.
    #[arg(long)]
    pub query: Option<String>,
    /// DuckDB and Parquet: the most memory DuckDB may use, a size (4GB,
    /// 500MB) or a share of the machine's memory (default 25%). Past it,
    /// DuckDB spills as much to a private temporary folder, then stops.
    #[arg(long, value_name = "SIZE")]
    pub duckdb_memory_limit: Option<String>,
    /// Mapping and journey options.
    #[command(flatten)]
    pub mapping: MappingArgs,
}

/// Mapping flags (override detection) and journey rules.
#[derive(Debug, Clone, Default, Args)]
pub struct MappingArgs {
    /// Column holding the customer id.
    #[arg(long, value_name = "COLUMN")]
    pub customer: Option<String>,
    /// Column holding the event (touchpoint) name.
    #[arg(long, value_name = "COLUMN")]
    pub event: Option<String>,
    /// Column holding the timestamp.
    #[arg(long, value_name = "COLUMN")]
    pub time: Option<String>,
    /// Column holding a unique event id (duplicates are dropped).
    #[arg(long, value_name = "COLUMN")]
    pub event_id: Option<String>,
    /// Column holding an explicit session id.
    #[arg(long, value_name = "COLUMN")]
    pub session_id: Option<String>,
    /// CSV delimiter: , ; | tab (sniffed by default).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Time zone of timestamps written without one (default UTC), e.g. Europe/Amsterdam.
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Idle gap that starts a new session (30m, 1h, 90s), or "none" for one
    /// session per customer.
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub session_timeout: String,
    /// Rename/group events: REGEX=NAME (repeatable, first match wins).
    #[arg(long, value_name = "REGEX=NAME")]
    pub rename: Vec<String>,
    /// Split a touchpoint by a property: EVENT:PROPERTY (repeatable).
    #[arg(long, value_name = "EVENT:PROPERTY")]
    pub split_by: Vec<String>,
    /// Leave an event out entirely (repeatable).
    #[arg(long, value_name = "EVENT")]
    pub exclude: Vec<String>,
    /// Merge consecutive events of the same touchpoint into one step.
    #[arg(long)]
    pub collapse_repeats: bool,
    /// Funnel steps, comma-separated: A,B,C.
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    pub funnel: Vec<String>,
    /// Funnel conversion window from the first step (e.g. 1h, 7d).
    #[arg(long, value_name = "DURATION", requires = "funnel")]
    pub within: Option<String>,
    /// Keep this property's value at each session's first event, for
    /// segments (repeatable; the channel column is always kept, and in
    /// files the columns with a few values too).
    #[arg(long, value_name = "NAME")]
    pub keep_property: Vec<String>,
    /// Replace every customer id, as it is read, by `p` and the first 16
    /// hex digits of HMAC-SHA256(key, id): raw ids then appear nowhere. The
    /// key comes from --pseudonymize-key-file or the
    /// JOURNEYSCOPE_PSEUDONYMIZE_KEY environment variable.
    #[arg(long)]
    pub pseudonymize: bool,
    /// The file holding the pseudonymization key (its bytes, a final line
    /// break left out).
    #[arg(long, value_name = "FILE", requires = "pseudonymize")]
    pub pseudonymize_key_file: Option<std::path::PathBuf>,
    /// Show this property's values as `hidden` everywhere: timelines,
    /// tooltips, segments, rejected samples and exports (repeatable).
    #[arg(long, value_name = "NAME")]
    pub hide_property: Vec<String>,
    /// Only these sessions: channel=app,web / plan!=free / did:purchase /
    /// !did:purchase / time:2026-11-20..2026-11-27, joined by &.
    #[arg(long, value_name = "EXPR")]
    pub segment: Option<String>,
    /// Compare two segments (given twice), a segment with all other sessions
    /// (given once), or `previous-period` (second half of the data vs first).
    /// With `live`: `previous` (the --window against the one before it) or a
    /// duration (1h, 1d: the window, as long as that without --window,
    /// against the same stretch that long earlier, in event time).
    #[arg(long, value_name = "EXPR")]
    pub compare: Vec<String>,
    /// With --compare: break each significant row down by the values of
    /// every property kept for comparing but those the groups are told
    /// apart by (each value's share now and before, its volume, and how
    /// much of the change it accounts for).
    #[arg(long, requires = "compare")]
    pub explain: bool,
    /// Add paths by step: each step's busiest touchpoints, "other", exits.
    #[arg(long)]
    pub paths: bool,
    /// Steps of --paths.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub depth: usize,
    /// Paths start at each session's first event at this touchpoint.
    #[arg(long, value_name = "TOUCHPOINT", conflicts_with = "paths_to")]
    pub paths_from: Option<String>,
    /// Paths end at each session's first event at this touchpoint (steps
    /// count backwards from it).
    #[arg(long, value_name = "TOUCHPOINT")]
    pub paths_to: Option<String>,
    /// Touchpoints shown per step of --paths; the rest are "other".
    #[arg(long, value_name = "K", default_value_t = 8)]
    pub paths_top: usize,
    /// Add the variants: each whole journey (START to END) taken, by
    /// sessions, with its share, duration and conversion.
    #[arg(long)]
    pub variants: bool,
    /// Variants listed one by one with --variants; the rest are added up.
    #[arg(long, value_name = "K", default_value_t = 10, requires = "variants")]
    pub top: usize,
    /// The touchpoint a variant's sessions convert at (default: the
    /// funnel's last step, else one named like purchase or order).
    #[arg(long, value_name = "TOUCHPOINT", requires = "variants")]
    pub goal: Option<String>,
    /// An expected journey, "a > b > c?" (? marks an optional step), or
    /// the name of a [[journey]] in --rules: how many sessions keep to it
    /// and where the others leave it.
    #[arg(long, value_name = "STEPS|NAME")]
    pub journey: Option<String>,
    /// A rules file (TOML): [[journey]] tables name expected journeys,
    /// [[trigger]] tables are per-customer triggers (summarize backtests
    /// them; live sends their actions), [[rule]] tables are alert rules
    /// (live).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

impl MappingArgs {
    /// The flags' defaults, as when none is given.
    pub fn defaults() -> Self {
        MappingArgs {
            session_timeout: "30m".into(),
            depth: 6,
            paths_top: 8,
            top: 10,
            ..MappingArgs::default()
        }
    }
}

/// `summarize`.
#[derive(Debug, Clone, Args)]
pub struct SummarizeArgs {
    /// The source.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Writes every action the `[[trigger]]` rules of --rules would have
    /// sent over the source, one JSON object per line (the objects a
    /// trigger topic gets).
    #[arg(long, value_name = "OUT.jsonl", requires = "rules")]
    pub actions: Option<PathBuf>,
}

/// Output formats of `customers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// `{"customers": [...]}`.
    Json,
    /// One row per customer.
    Csv,
}

/// Output formats of `timeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimelineFormat {
    /// `{"customer": ..., "sessions": [...]}`.
    Json,
    /// A readable table, a block per session.
    Table,
}

/// `customers`.
#[derive(Debug, Clone, Args)]
pub struct CustomersArgs {
    /// The source (`--segment` lists only the customers of its sessions).
    #[command(flatten)]
    pub source: SourceArgs,
    /// The touchpoint that counts as converting (guessed from names such as
    /// purchase or order when not given).
    #[arg(long, value_name = "TOUCHPOINT")]
    pub converted_at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Json)]
    pub format: ListFormat,
}

/// `timeline`.
#[derive(Debug, Clone, Args)]
pub struct TimelineArgs {
    /// The source.
    #[command(flatten)]
    pub source: SourceArgs,
    /// The customer's id, as `customers` prints it (`--customer` names
    /// the customer column, as everywhere the mapping flags are).
    #[arg(long = "id", visible_alias = "customer-id", value_name = "ID")]
    pub customer_id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TimelineFormat::Table)]
    pub format: TimelineFormat,
}

/// `export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The source.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output file: .svg, .png (at least 1600 px wide), .csv, .json or .dot.
    #[arg(long)]
    pub out: PathBuf,
}

/// `demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Print the summary instead of opening the window.
    #[arg(long)]
    pub headless: bool,
    /// Output format with --headless.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Mapping and journey options.
    #[command(flatten)]
    pub mapping: MappingArgs,
}

/// Broker connection shared by `live` and `produce`.
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// Bootstrap servers, HOST:PORT[,HOST:PORT…].
    #[arg(long, value_name = "HOST:PORT")]
    pub brokers: String,
    /// The topic (for `live --state-topic`, the workers' input topic is
    /// read from their snapshots).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// A librdkafka property, e.g. -X security.protocol=SASL_SSL (repeatable;
    /// values are never printed).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
}

/// How message values are read (`--value-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValueFormatArg {
    /// Registry-framed values by their schema (Avro, Protobuf, JSON Schema); anything else as JSON.
    Auto,
    /// JSON text.
    Json,
    /// Avro (registry-framed, or with --schema FILE.avsc).
    Avro,
    /// Protobuf (registry-framed, or with --schema FILE.proto --message NAME).
    Protobuf,
}

/// The value format and where its schemas come from.
#[derive(Debug, Clone, Args)]
pub struct ValueArgs {
    /// How message values are read.
    #[arg(long, value_enum, default_value_t = ValueFormatArg::Auto)]
    pub value_format: ValueFormatArg,
    /// A Confluent Schema Registry (its REST API); credentials with
    /// -X schema.registry.basic.auth.user.info=USER:PASS, a CA with
    /// -X schema.registry.ssl.ca.location=FILE.
    #[arg(long, value_name = "URL")]
    pub schema_registry: Option<String>,
    /// The values' schema, for values without registry framing (or to decode
    /// framed ones without a registry): an Avro schema (.avsc) or a .proto file.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// With a .proto --schema: the message the values hold.
    #[arg(long, value_name = "NAME")]
    pub message: Option<String>,
}

/// `live`.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// The broker and topic.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// How message values are read.
    #[command(flatten)]
    pub values: ValueArgs,
    /// Where to start: earliest, latest, a time (2026-11-27T09:00:00Z) or a
    /// duration back (-15m).
    #[arg(long, default_value = "latest", allow_hyphen_values = true)]
    pub from: String,
    /// Join this consumer group (and commit) instead of reading every
    /// partition without committing.
    #[arg(long, value_name = "ID")]
    pub group: Option<String>,
    /// Print instead of opening the window.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: print once the topic has been quiet this long, then stop.
    #[arg(long, value_name = "DURATION")]
    pub until_idle: Option<String>,
    /// With --headless: print a summary this often, as JSON lines.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Output format with --headless.
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,
    /// How long to wait for the first messages to detect the columns from.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub detect_wait: String,
    /// How much older than a customer's newest event an arrival may be
    /// before it counts as late (it is placed in order either way).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub lateness: String,
    /// Only the events of this last stretch of event time (5m, 15m, 1h);
    /// since start when not given.
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    /// With --headless and --window-to: only the events of event time from
    /// this time on (`2026-12-05T14:05:00Z`, `2026-12-05 14:05` in
    /// --timezone, or `14:05`, the one nearest now), a fixed range that does
    /// not move as events arrive.
    #[arg(
        long,
        value_name = "TIME",
        requires = "window_to",
        requires = "headless",
        conflicts_with = "window"
    )]
    pub window_from: Option<String>,
    /// With --window-from: the end of the range (the events before it).
    #[arg(long, value_name = "TIME", requires = "window_from")]
    pub window_to: Option<String>,
    /// Alert rules (TOML `[[rule]]` tables), checked in event time; with
    /// --headless each alert is printed as a JSON line with --every and
    /// listed under "alerts" in the final JSON. A rule's own `topic`
    /// (`brokers`) and `webhook` get its alerts, in the window too.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Also produce every alert (its JSON, keyed by the rule's name) to this
    /// topic on the same brokers, with the same client properties, besides
    /// each rule's own outputs (a topic named by both gets it once).
    #[arg(long, value_name = "TOPIC")]
    pub alerts_topic: Option<String>,
    /// Also POST every alert's JSON to this URL (retried with backoff, never
    /// holding up the stream; failures are counted), besides each rule's
    /// own webhook (a URL named by both gets it once).
    #[arg(long, value_name = "URL")]
    pub alerts_webhook: Option<String>,
    /// Produce every action of the [[trigger]] rules (its JSON, keyed by
    /// the customer) to this topic on the same brokers, with the idempotent
    /// producer; each delivery is confirmed, and an action not confirmed
    /// before a crash is sent again after resuming (same id).
    #[arg(long, value_name = "TOPIC")]
    pub triggers_topic: Option<String>,
    /// POST every action of the [[trigger]] rules to this URL (retried with
    /// backoff, never holding up the stream; failures are counted).
    #[arg(long, value_name = "URL")]
    pub triggers_webhook: Option<String>,
    /// Keep the live state in this file: resume from it when it exists, and
    /// save it atomically as events arrive (headless: with every summary
    /// printed; in the window: every 10 s and on closing).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Show the journeys the workers of a job publish to this state topic,
    /// merged (see `worker`), instead of reading --topic.
    #[arg(long, value_name = "TOPIC")]
    pub state_topic: Option<String>,
    /// With --state-topic: the job to show (needed only when the state
    /// topic holds several).
    #[arg(long, value_name = "NAME", requires = "state_topic")]
    pub job: Option<String>,
    /// With --state-topic and --headless: print once every partition of the
    /// input topic has a snapshot covering its end, then stop.
    #[arg(long, requires = "state_topic")]
    pub until_caught_up: bool,
    /// Mapping and journey options.
    #[command(flatten)]
    pub mapping: MappingArgs,
}

/// `worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The broker and the input topic (keyed by customer).
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// How message values are read.
    #[command(flatten)]
    pub values: ValueArgs,
    /// The consumer group the workers share.
    #[arg(long, value_name = "ID")]
    pub group: String,
    /// Where each partition's journeys are published (created, compacted,
    /// when missing).
    #[arg(long, value_name = "TOPIC")]
    pub state_topic: String,
    /// The job the snapshots belong to: workers of one job share their
    /// mapping flags (the group's name when not given).
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// How often each partition's journeys are published.
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub every: String,
    /// Where a partition without a snapshot starts: earliest, latest, a time
    /// or a duration back (-15m).
    #[arg(long, default_value = "earliest", allow_hyphen_values = true)]
    pub from: String,
    /// How much older than a customer's newest event an arrival may be
    /// before it counts as late (it is placed in order either way).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub lateness: String,
    /// How long to wait for the first messages to detect the columns from.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub detect_wait: String,
    /// Print a JSON line per published round (partitions held, events, lag).
    #[arg(long)]
    pub every_line: bool,
    /// Event time each partition keeps for windows, comparisons and the
    /// merged view's alert rules (at least an hour; give the longest rule's
    /// window plus its baseline when longer).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub keep: String,
    /// At most this much state per state-topic message; a larger snapshot
    /// is split into numbered chunks.
    #[arg(long, value_name = "BYTES", default_value_t = 900_000)]
    pub chunk_bytes: usize,
    /// Produce every action of the [[trigger]] rules of --rules (its
    /// JSON, keyed by the customer) to this topic on the same brokers,
    /// with the idempotent producer.
    #[arg(long, value_name = "TOPIC")]
    pub triggers_topic: Option<String>,
    /// POST every action of the [[trigger]] rules of --rules to this URL.
    #[arg(long, value_name = "URL")]
    pub triggers_webhook: Option<String>,
    /// Mapping and journey options.
    #[command(flatten)]
    pub mapping: MappingArgs,
}

/// How `produce` writes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProducedFormat {
    /// JSON text.
    Json,
    /// Registry-framed Avro.
    Avro,
    /// Registry-framed Protobuf.
    Protobuf,
}

/// `produce`.
#[derive(Debug, Clone, Args)]
pub struct ProduceArgs {
    /// The broker and topic.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The file to replay (JSON lines are sent line by line, as they are).
    #[arg(long, conflicts_with = "sample", required_unless_present = "sample")]
    pub input: Option<PathBuf>,
    /// Replay the bundled sample data.
    #[arg(long)]
    pub sample: bool,
    /// Events per second (as fast as possible when not given).
    #[arg(long, value_name = "EVENTS_PER_S")]
    pub rate: Option<f64>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// How the values are written: JSON (JSON lines as they are), or
    /// registry-framed Avro or Protobuf with a schema made from the mapping
    /// and registered under TOPIC-value (needs --schema-registry).
    #[arg(long, value_enum, default_value_t = ProducedFormat::Json)]
    pub value_format: ProducedFormat,
    /// The Confluent Schema Registry to register the schema with
    /// (credentials with -X schema.registry.basic.auth.user.info=USER:PASS).
    #[arg(long, value_name = "URL")]
    pub schema_registry: Option<String>,
    /// Mapping options used to find the customer (the message key).
    #[command(flatten)]
    pub mapping: MappingArgs,
}

/// `generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Number of records to write.
    #[arg(long, default_value_t = 100_000)]
    pub events: usize,
    /// Random seed (same seed, same file).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Output file: .jsonl, .csv, .tsv or .parquet, optionally + .gz or .zst.
    #[arg(long)]
    pub out: PathBuf,
    /// Leave out duplicates, late events and malformed records.
    #[arg(long)]
    pub clean: bool,
    /// Compression level for .gz (0–9) or .zst (1–22) output.
    #[arg(long, value_name = "LEVEL")]
    pub compression_level: Option<i32>,
}

/// `bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Data set sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    pub events: Vec<usize>,
    /// Where the generated Parquet files are kept between runs.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Timed runs per measurement (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Time the variants and an expected journey on the same files against
    /// plain `summarize`, in the same run, instead.
    #[arg(long)]
    pub journeys: bool,
    /// Time drawing maps of 200 touchpoints and 2,000 transitions and of
    /// 1,000 and 10,000 instead.
    #[arg(long)]
    pub map: bool,
    /// Time live ingest from Kafka against a plain consumer, and measure
    /// memory per customer, instead (needs --brokers).
    #[arg(long)]
    pub kafka: bool,
    /// 1, 2 and 4 workers on an 8-partition topic against one live reader
    /// (needs --brokers), the merged view's merge time for 64 partitions and
    /// a snapshot's size.
    #[arg(long)]
    pub workers: bool,
    /// Measure the live engine's memory over a day of customers instead
    /// (no broker needed).
    #[arg(long)]
    pub live_memory: bool,
    /// Time ten trigger rules backtested on the files against building
    /// their journeys, and the live engine's memory with twenty rules;
    /// with --brokers also live ingest with twenty rules against none and
    /// a plain consumer.
    #[arg(long)]
    pub triggers: bool,
    /// With --kafka: the broker to use (a 4-partition topic is created).
    #[arg(long, value_name = "HOST:PORT")]
    pub brokers: Option<String>,
    /// With --kafka: also time the same events as registry-framed Avro and
    /// Protobuf, their schemas registered here.
    #[arg(long, value_name = "URL")]
    pub schema_registry: Option<String>,
    /// Files: also time Polars (lazy) and, up to a million events, pm4py
    /// on the same work in the same run, with this Python (it needs
    /// polars, pandas and pm4py); `benches/peers.py` is what it runs.
    #[arg(long, value_name = "PYTHON")]
    pub peers: Option<PathBuf>,
}
