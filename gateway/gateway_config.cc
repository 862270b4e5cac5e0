#include "gateway/gateway_config.h"

namespace baton::gateway {

Result<std::chrono::seconds> ParseDurationText(std::string_view text) {
  const auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\" is not a duration (a whole number followed by s, m, h or d, e.g. 24h)");
  };
  if (text.empty()) return bad();
  int64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's': unit = 1; digits.remove_suffix(1); break;
    case 'm': unit = 60; digits.remove_suffix(1); break;
    case 'h': unit = 3600; digits.remove_suffix(1); break;
    case 'd': unit = 86400; digits.remove_suffix(1); break;
    default: break;
  }
  if (digits.empty() || digits.size() > 9) return bad();
  int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
    value = value * 10 + (c - '0');
  }
  return std::chrono::seconds(value * unit);
}

ConfigSchema GatewayConfigSchema() {
  ConfigSchema schema = ConfigSchema::WithCommonKeys("127.0.0.1:7780");
  schema.Address("grpc.listen", "127.0.0.1:7700", "host:port of the client gRPC API (baton.v1.Gateway)")
      .String("data_dir", "", "Directory of the write-ahead log and snapshots")
      .Require("data_dir")
      .Int("index.dimension", std::nullopt, 1, 65536, "Dimension of every vector")
      .Require("index.dimension")
      .Enum("index.metric", "l2", {"l2", "cosine"}, "Distance metric of Search")
      .Int("index.ef_search", 1600, 10, 100000,
           "HNSW search breadth: higher is more exact and slower (1600 gives recall@10 >= 0.95 on random 128-d data)")
      .Int("index.exact_threshold", 10000, 0, 100000000, "Below this many objects Search scans exactly")
      .Int("index.indexer_nice", 10, 0, 19,
           "Nice value of the background indexer thread: above 0 it yields the CPU to client calls under load "
           "(pending objects are searched exactly meanwhile)")
      .Int("wal.segment_bytes", 64 << 20, 1 << 16, int64_t{1} << 34, "Size at which a new log segment starts")
      .Int("snapshot.interval_records", 100000, 1, int64_t{1} << 40,
           "Write a snapshot after this many applied log records (bounds recovery time and log size)")
      .Int("replication.sync_timeout_ms", 5000, 10, 600000,
           "A write not confirmed by the sync standbys within this fails UNAVAILABLE (it is never reported done)")
      .Int("replication.heartbeat_ms", 50, 5, 10000,
           "An idle replication stream sends a heartbeat this often; standbys ack each")
      .Enum("mirror.mode", "async", {"async", "sync"},
            "sync: the client waits for peer clusters; async: peers are delivered from the log "
            "(under an arbiter the cluster config's mirror_mode wins)")
      .List("mirror.targets", "",
            "Peer clusters to mirror writes to, NAME=CLUSTER@HOST:PORT[+HOST:PORT...]; standalone only "
            "(under an arbiter, targets come with the assignment)")
      .Int("mirror.cursor_interval_ms", 200, 10, 600000,
           "How often the active logs each mirror target's delivery cursor (what a promoted standby resumes from)")
      .Int("mirror.timeout_ms", 5000, 50, 600000, "Deadline of one delivery call to a peer cluster's active")
      .Int("mirror.max_batch", 256, 1, 10000, "Most writes sent to a peer in one Multi* call")
      .String("mirror.tombstone_ttl", "24h",
              "How long a removed object's tombstone is kept so that a late older write cannot bring it back "
              "(a number with s, m, h or d)")
      .List("arbiter.addresses", "",
            "Arbiter gRPC addresses; empty = standalone (active until assigned), else no role until assigned")
      .String("pid_file", "",
              "Write this process's pid here once serving; removed on clean stop (the agent watches the pid)");
  return schema;
}

}  // namespace baton::gateway
