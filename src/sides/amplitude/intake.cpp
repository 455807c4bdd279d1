#include "sides/amplitude/intake.h"

#include <openssl/crypto.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "concord/http.h"
#include "net/ascii.h"

namespace concord::amplitude {
namespace {

using json = nlohmann::json;
// Reply bodies keep the reference's key order ("code" first), which a reader of a log expects.
using ordered_json = nlohmann::ordered_json;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kText = "text/plain; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// The reference's word lists (§4.2).

// Ids that Amplitude refuses outright: placeholders a broken client sends instead of an id.
constexpr std::array<std::string_view, 14> kInvalidIds = {
    "anonymous", "nil",       "none",    "null", "n/a",
    "na",        "undefined", "unknown", "",     "00000000-0000-0000-0000-000000000000",
    "{}",        "lmy47d",    "0",       "-1"};

// Event types only Amplitude itself may create.
constexpr std::array<std::string_view, 3> kReservedTypes = {
    "[Amplitude] Start Session", "[Amplitude] End Session", "[Amplitude] Merged User"};
constexpr std::string_view kReservedRevenuePrefix = "[Amplitude] Revenue";

// The user-property operations of an identify; every one but $clearAll takes an object.
constexpr std::array<std::string_view, 10> kOperations = {
    "$set",   "$setOnce",   "$add",        "$append", "$prepend",
    "$unset", "$preInsert", "$postInsert", "$remove", "$clearAll"};

bool is_invalid_id(std::string_view id) {
  return std::any_of(kInvalidIds.begin(), kInvalidIds.end(),
                     [id](std::string_view bad) { return http::ascii::iequals(id, bad); });
}

bool is_reserved_type(std::string_view type) {
  return std::find(kReservedTypes.begin(), kReservedTypes.end(), type) != kReservedTypes.end() ||
         type.substr(0, kReservedRevenuePrefix.size()) == kReservedRevenuePrefix;
}

// Characters (code points) of valid UTF-8: the reader only hands over valid UTF-8.
std::size_t characters(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// JSON string text of `s`; never throws (bytes that are not UTF-8 become U+FFFD).
std::string json_string(std::string_view s) {
  return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// The comparison takes as long wherever the keys differ (only a wrong length answers sooner), so
// that a sender cannot find the key a byte at a time by timing the answers.
bool same_key(std::string_view sent, std::string_view expected) {
  if (expected.empty() || sent.size() != expected.size()) return false;
  return CRYPTO_memcmp(sent.data(), expected.data(), expected.size()) == 0;
}

// ---------------------------------------------------------------------------------------------
// Replies.

IntakeReply json_reply(int status, const ordered_json& body) {
  IntakeReply r;
  r.status = status;
  r.content_type = std::string(kJson);
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

IntakeReply error_reply(int status, std::string_view error) {
  return json_reply(status, ordered_json{{"code", status}, {"error", error}});
}

IntakeReply text_reply(int status, std::string_view text) {
  IntakeReply r;
  r.status = status;
  r.content_type = std::string(kText);
  r.body = std::string(text);
  return r;
}

IntakeReply missing_field_reply(std::string_view field) {
  return json_reply(400, ordered_json{{"code", 400},
                                      {"error", "Request missing required field"},
                                      {"missing_field", field}});
}

IntakeReply too_large_reply() {
  return error_reply(413, "Payload too large");
}

std::int64_t to_ms(Micros t) {
  return t / 1000;
}

// ---------------------------------------------------------------------------------------------
// The body: size limit and gzip.

enum class Gunzip : std::uint8_t { kOk, kTooLarge, kCorrupt };

bool gzip_magic(std::string_view s) {
  return s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0x1f &&
         static_cast<unsigned char>(s[1]) == 0x8b;
}

// Inflates gzip data (one member or several in a row) into *out, stopping as soon as the output
// would pass `limit`: the bound is what keeps a gzip bomb from taking memory.
Gunzip gunzip(std::string_view in, std::size_t limit, std::string* out) {
  out->clear();
  if (!gzip_magic(in)) return Gunzip::kCorrupt;
  z_stream zs{};
  // 16 + MAX_WBITS: a gzip wrapper only (not zlib's, not raw deflate).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Gunzip::kCorrupt;
  Gunzip result = Gunzip::kOk;
  std::size_t offset = 0;
  char buffer[1 << 15];
  for (;;) {
    const std::size_t chunk = std::min<std::size_t>(in.size() - offset, UINT_MAX);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + offset));
    zs.avail_in = static_cast<uInt>(chunk);
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const std::size_t consumed = chunk - zs.avail_in;
    const std::size_t produced = sizeof buffer - zs.avail_out;
    offset += consumed;
    if (produced > limit - out->size()) {
      result = Gunzip::kTooLarge;
      break;
    }
    out->append(buffer, produced);
    if (rc == Z_STREAM_END) {
      if (offset == in.size()) break;
      // Another member must follow (concatenated gzip files read as one); anything else after
      // the end is not gzip.
      if (!gzip_magic(in.substr(offset)) || inflateReset(&zs) != Z_OK) {
        result = Gunzip::kCorrupt;
        break;
      }
      continue;
    }
    // No progress is possible: the data stops before its end (or is corrupt).
    if ((rc != Z_OK && rc != Z_BUF_ERROR) || (consumed == 0 && produced == 0)) {
      result = Gunzip::kCorrupt;
      break;
    }
  }
  inflateEnd(&zs);
  return result;
}

// The body as a JSON or form reader sees it: gunzipped when it says so, within `limit`. Returns
// false with *reply set when the body cannot be read.
bool decode_body(const IntakeRequest& request, std::size_t limit, bool text_replies,
                 std::string* storage, std::string_view* body, IntakeReply* reply) {
  const std::string encoding = http::ascii::to_lower(trim(request.content_encoding));
  if (encoding.empty() || encoding == "identity") {
    if (request.body.size() > limit) {
      *reply = text_replies ? text_reply(413, "Payload too large") : too_large_reply();
      return false;
    }
    *body = request.body;
    return true;
  }
  if (encoding == "gzip" || encoding == "x-gzip") {
    switch (gunzip(request.body, limit, storage)) {
      case Gunzip::kOk:
        *body = *storage;
        return true;
      case Gunzip::kTooLarge:
        *reply = text_replies ? text_reply(413, "Payload too large") : too_large_reply();
        return false;
      case Gunzip::kCorrupt:
        break;
    }
  }
  // An encoding concord cannot undo, or gzip that does not inflate: the body is unreadable.
  *reply = text_replies ? text_reply(400, "missing_event")
                        : error_reply(400, "Invalid JSON request body");
  return false;
}

// ---------------------------------------------------------------------------------------------
// Reading the JSON: a token stream (nlohmann's SAX interface), keeping only the fields concord
// uses. No document is built, so neither deep nesting nor huge arrays cost more than their text.

enum class Type : std::uint8_t { kAbsent, kNull, kString, kInteger, kObject, kArray, kOther };

// One scalar field of an event as sent.
struct Value {
  Type type = Type::kAbsent;
  std::string text;          // kString
  std::int64_t integer = 0;  // kInteger (an int64; larger integers are kOther)
};

// event_properties or user_properties as sent.
struct Props {
  Type type = Type::kAbsent;
  std::string text;            // compact JSON, when kObject
  bool too_deep = false;       // nested deeper than max_property_depth
  bool too_long = false;       // a key or string longer than max_string_length
  bool has_operation = false;  // top-level keys: "$set" and the like …
  bool has_plain = false;      // … and ordinary ones
  bool bad_operation = false;  // an operation (not $clearAll) whose value is not an object
};

struct RawEvent {
  bool object = false;  // the element was a JSON object
  Value user_id, device_id, event_type, time, insert_id, ip;
  Props event_properties, user_properties;
};

// What a request's JSON says.
struct Document {
  bool root_object = false;
  Value api_key;
  Type events = Type::kAbsent;  // "events" (an upload), or the identification's root
  Value min_id_length;          // options.min_id_length
  std::vector<RawEvent> raw;
  bool too_many = false;  // more than max_events: reading stopped there
};

class Reader final : public nlohmann::json_sax<json> {
 public:
  enum class Layout : std::uint8_t {
    kUpload,          // {"api_key","events":[…],"options":{…}}
    kIdentification,  // {…} or [{…},…]
  };

  Reader(Layout layout, const IntakeOptions& options, Document* doc)
      : layout_(layout), options_(options), doc_(doc) {}

  bool null() override { return scalar(Value{Type::kNull, {}, 0}, "null"); }
  bool boolean(bool v) override { return scalar(Value{Type::kOther, {}, 0}, v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override {
    return scalar(Value{Type::kInteger, {}, v}, std::to_string(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    const bool fits = v <= static_cast<number_unsigned_t>(std::numeric_limits<std::int64_t>::max());
    return scalar(Value{fits ? Type::kInteger : Type::kOther, {}, static_cast<std::int64_t>(v)},
                  std::to_string(v));
  }
  // Fractions and exponents are never an integer field's value; in properties the number is kept
  // exactly as written.
  bool number_float(number_float_t, const string_t& raw) override {
    return scalar(Value{Type::kOther, {}, 0}, raw);
  }
  bool string(string_t& v) override {
    if (!in_props()) return scalar(Value{Type::kString, std::move(v), 0}, {});
    if (characters(v) > options_.max_string_length) stack_.back().props->too_long = true;
    return scalar(Value{}, json_string(v));
  }
  bool binary(binary_t&) override { return true; }  // not in JSON text
  bool start_object(std::size_t) override { return open(false); }
  bool start_array(std::size_t) override { return open(true); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override;
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  enum class Role : std::uint8_t { kRoot, kOptions, kEvents, kEvent, kProps };
  struct Frame {
    Role role = Role::kRoot;
    bool array = false;
    bool first = true;       // kProps: nothing written into it yet
    int depth = 0;           // kProps: 1 for the properties object itself
    Props* props = nullptr;  // kProps: where the text goes
    std::string key;         // objects: the key just read (kProps: at depth 1 only)
  };

  void push(Role role, bool array = false, int depth = 0, Props* props = nullptr) {
    Frame f;
    f.role = role;
    f.array = array;
    f.depth = depth;
    f.props = props;
    stack_.push_back(std::move(f));
  }
  bool in_props() const {
    return ignored_ == 0 && !stack_.empty() && stack_.back().role == Role::kProps;
  }
  bool open(bool array);
  bool close();
  bool scalar(Value value, std::string_view text);
  bool new_event();
  Value* field(std::string_view key);
  Props* props(std::string_view key);
  // kProps: a comma before a value in an array; an object's key was written by key().
  void separate(Frame& f) {
    if (f.array && !f.first) f.props->text += ',';
    f.first = false;
  }
  // A value at depth 1 of user_properties under an operation must be an object ($clearAll: any).
  void check_operation(const Frame& f, bool object) {
    if (f.depth == 1 && !f.array && is_user_property_operation(f.key) && f.key != "$clearAll" &&
        !object) {
      f.props->bad_operation = true;
    }
  }

  Layout layout_;
  const IntakeOptions& options_;
  Document* doc_;
  std::vector<Frame> stack_;  // the containers being read (bounded by max_property_depth + 3)
  std::size_t ignored_ = 0;   // containers open inside one that is skipped
};

bool Reader::new_event() {
  if (doc_->raw.size() >= options_.max_events) {
    doc_->too_many = true;
    return false;  // stop reading: the answer is 413 whatever follows
  }
  doc_->raw.emplace_back();
  return true;
}

Value* Reader::field(std::string_view key) {
  RawEvent& e = doc_->raw.back();
  if (key == "user_id") return &e.user_id;
  if (key == "device_id") return &e.device_id;
  if (key == "event_type") return &e.event_type;
  if (key == "time") return &e.time;
  if (key == "insert_id") return &e.insert_id;
  if (key == "ip") return &e.ip;
  return nullptr;
}

Props* Reader::props(std::string_view key) {
  RawEvent& e = doc_->raw.back();
  if (key == "event_properties") return &e.event_properties;
  if (key == "user_properties") return &e.user_properties;
  return nullptr;
}

bool Reader::key(string_t& k) {
  if (ignored_ > 0) return true;
  Frame& top = stack_.back();
  if (top.role != Role::kProps) {
    top.key = std::move(k);
    return true;
  }
  if (!top.first) top.props->text += ',';
  top.first = false;
  top.props->text += json_string(k);
  top.props->text += ':';
  if (characters(k) > options_.max_string_length) top.props->too_long = true;
  if (top.depth == 1) {
    (is_user_property_operation(k) ? top.props->has_operation : top.props->has_plain) = true;
    top.key = std::move(k);
  }
  return true;
}

bool Reader::open(bool array) {
  if (ignored_ > 0) {
    ++ignored_;
    return true;
  }
  const Type type = array ? Type::kArray : Type::kObject;
  if (stack_.empty()) {  // the root
    if (layout_ == Layout::kUpload) {
      if (array) {
        ignored_ = 1;
        return true;
      }
      doc_->root_object = true;
      push(Role::kRoot);
      return true;
    }
    doc_->events = type;
    if (array) {
      push(Role::kEvents, true);
      return true;
    }
    if (!new_event()) return false;
    doc_->raw.back().object = true;
    push(Role::kEvent);
    return true;
  }
  Frame& top = stack_.back();
  switch (top.role) {
    case Role::kRoot:
      if (top.key == "events") {
        doc_->events = type;
        doc_->raw.clear();  // a repeated key: the last one counts
        if (array) {
          push(Role::kEvents, true);
          return true;
        }
      } else if (top.key == "options" && !array) {
        push(Role::kOptions);
        return true;
      } else if (top.key == "api_key") {
        doc_->api_key = Value{Type::kOther, {}, 0};
      }
      break;
    case Role::kOptions:
      if (top.key == "min_id_length") doc_->min_id_length = Value{Type::kOther, {}, 0};
      break;
    case Role::kEvents:
      if (!new_event()) return false;
      if (!array) {
        doc_->raw.back().object = true;
        push(Role::kEvent);
        return true;
      }
      break;
    case Role::kEvent:
      if (Value* v = field(top.key)) {
        *v = Value{Type::kOther, {}, 0};
      } else if (Props* p = props(top.key)) {
        *p = Props{};
        p->type = type;
        if (!array) {
          p->text = "{";
          push(Role::kProps, false, 1, p);
          return true;
        }
      }
      break;
    case Role::kProps: {
      separate(top);
      check_operation(top, !array);
      if (top.depth >= options_.max_property_depth) {
        top.props->too_deep = true;
        break;
      }
      top.props->text += array ? '[' : '{';
      push(Role::kProps, array, top.depth + 1, top.props);
      return true;
    }
  }
  ignored_ = 1;  // a container concord does not read (or cannot use): skip it
  return true;
}

bool Reader::close() {
  if (ignored_ > 0) {
    --ignored_;
    return true;
  }
  const Frame& top = stack_.back();
  if (top.role == Role::kProps) top.props->text += top.array ? ']' : '}';
  stack_.pop_back();
  return true;
}

bool Reader::scalar(Value value, std::string_view text) {
  if (ignored_ > 0 || stack_.empty()) return true;  // a bare root value has no fields
  Frame& top = stack_.back();
  switch (top.role) {
    case Role::kRoot:
      if (top.key == "api_key") {
        doc_->api_key = std::move(value);
      } else if (top.key == "events") {
        doc_->events = value.type;
        doc_->raw.clear();
      }
      return true;
    case Role::kOptions:
      if (top.key == "min_id_length") doc_->min_id_length = std::move(value);
      return true;
    case Role::kEvents:
      return new_event();
    case Role::kEvent:
      if (Value* v = field(top.key)) {
        *v = std::move(value);
      } else if (Props* p = props(top.key)) {
        *p = Props{};
        p->type = value.type == Type::kNull ? Type::kNull : Type::kOther;
      }
      return true;
    case Role::kProps:
      separate(top);
      check_operation(top, false);
      top.props->text += text;
      return true;
  }
  return true;
}

// Reads `text` into *doc. Returns false when it is not JSON (doc->too_many says the reading
// stopped at the event limit instead).
bool read_json(std::string_view text, Reader::Layout layout, const IntakeOptions& options,
               Document* doc) {
  Reader reader(layout, options, doc);
  return json::sax_parse(text, &reader);
}

// ---------------------------------------------------------------------------------------------
// Validation (§4.2).

// field → indexes, for each of the three maps of a 400.
using IndexMap = std::map<std::string, std::vector<std::size_t>>;

struct Problems {
  IndexMap invalid;     // events_with_invalid_fields
  IndexMap missing;     // events_with_missing_fields
  IndexMap id_lengths;  // events_with_invalid_id_lengths
  bool not_object = false;

  bool any() const {
    return not_object || !invalid.empty() || !missing.empty() || !id_lengths.empty();
  }
};

struct Context {
  std::size_t min_id_length;
  std::size_t max_string_length;
  std::int64_t now_ms;
  std::string_view peer;
  bool identify_route;  // /identify: every element is an identification
};

// The request's options.min_id_length when it is usable, else the stream's.
std::size_t min_id_length(const Document& doc, const IntakeOptions& options) {
  const Value& v = doc.min_id_length;
  if (v.type == Type::kInteger && v.integer >= 1 &&
      static_cast<std::uint64_t>(v.integer) <= options.max_string_length) {
    return static_cast<std::size_t>(v.integer);
  }
  return static_cast<std::size_t>(std::max(options.min_id_length, 0));
}

bool props_ok(const Props& p, bool identify, std::string* out) {
  switch (p.type) {
    case Type::kAbsent:
    case Type::kNull:
      *out = "{}";
      return true;
    case Type::kObject:
      if (p.too_deep || p.too_long) return false;
      if (identify && ((p.has_operation && p.has_plain) || p.bad_operation)) return false;
      *out = p.text;
      return true;
    default:
      return false;
  }
}

// Checks one event; adds what is wrong with it to *problems (under `index`) and, when nothing is,
// fills *out.
void validate(const RawEvent& raw, std::size_t index, const Context& ctx, Problems* problems,
              IntakeEvent* out) {
  bool bad = false;
  auto invalid = [&](const char* f) {
    problems->invalid[f].push_back(index);
    bad = true;
  };
  if (!raw.object) {
    problems->invalid["event"].push_back(index);
    problems->not_object = true;
    return;
  }

  // The ids: invalid ones refuse the event; short ones are removed from it.
  std::vector<const char*> too_short;
  auto id = [&](const Value& v, const char* name, std::string* kept) {
    if (v.type == Type::kAbsent || v.type == Type::kNull) return;
    if (v.type != Type::kString || is_invalid_id(v.text) ||
        characters(v.text) > ctx.max_string_length) {
      invalid(name);
    } else if (characters(v.text) < ctx.min_id_length) {
      too_short.push_back(name);
    } else {
      *kept = v.text;
    }
  };
  id(raw.user_id, "user_id", &out->user_id);
  id(raw.device_id, "device_id", &out->device_id);
  if (!bad && out->user_id.empty() && out->device_id.empty()) {
    if (!too_short.empty()) {
      for (const char* name : too_short)
        problems->id_lengths[name].push_back(index);
    } else {
      problems->missing["user_id"].push_back(index);
      problems->missing["device_id"].push_back(index);
    }
    bad = true;
  }

  if (ctx.identify_route) {  // an identification has no event_type or time
    out->event_type = "$identify";
    out->kind = EventKind::kIdentify;
    out->time_ms = ctx.now_ms;
  } else {
    const Value& t = raw.event_type;
    if (t.type == Type::kAbsent || t.type == Type::kNull) {
      problems->missing["event_type"].push_back(index);
      bad = true;
    } else if (t.type != Type::kString || t.text.empty() ||
               characters(t.text) > ctx.max_string_length || is_reserved_type(t.text)) {
      invalid("event_type");
    } else {
      out->event_type = t.text;
      out->kind = t.text == "$identify"        ? EventKind::kIdentify
                  : t.text == "$groupidentify" ? EventKind::kGroupIdentify
                                               : EventKind::kTrack;
    }
    const Value& time = raw.time;
    if (time.type == Type::kAbsent || time.type == Type::kNull) {
      out->time_ms = ctx.now_ms;
    } else if (time.type == Type::kInteger && time.integer >= 0 && time.integer <= kMaxTimeMs) {
      out->time_ms = time.integer;
    } else {
      invalid("time");
    }
  }

  const Value& insert = raw.insert_id;
  if (insert.type == Type::kString && characters(insert.text) <= ctx.max_string_length) {
    out->insert_id = insert.text;
  } else if (insert.type != Type::kAbsent && insert.type != Type::kNull) {
    invalid("insert_id");
  }

  if (!props_ok(raw.event_properties, false, &out->event_properties)) invalid("event_properties");
  const bool identify = out->kind == EventKind::kIdentify;
  if (!props_ok(raw.user_properties, identify, &out->user_properties)) invalid("user_properties");

  if (raw.ip.type == Type::kString) out->ip = raw.ip.text == "$remote" ? ctx.peer : raw.ip.text;
  out->index = index;
}

// Validates every event of *doc. Returns the accepted events when all are valid.
bool validate_all(const Document& doc, const Context& ctx, Problems* problems,
                  std::vector<IntakeEvent>* accepted) {
  accepted->reserve(doc.raw.size());
  for (std::size_t i = 0; i < doc.raw.size(); ++i) {
    IntakeEvent e;
    validate(doc.raw[i], i, ctx, problems, &e);
    accepted->push_back(std::move(e));
  }
  if (problems->any()) {
    accepted->clear();
    return false;
  }
  return true;
}

ordered_json index_map(const IndexMap& m) {
  ordered_json out = ordered_json::object();
  for (const auto& [field, indexes] : m)
    out[field] = indexes;
  return out;
}

IntakeReply problems_reply(const Problems& p) {
  const char* error = p.not_object ? "Invalid event JSON"
                      : !p.invalid.empty() || !p.id_lengths.empty()
                          ? "Invalid field values on some events"
                          : "Request missing required field";
  return json_reply(400, ordered_json{{"code", 400},
                                      {"error", error},
                                      {"events_with_invalid_fields", index_map(p.invalid)},
                                      {"events_with_missing_fields", index_map(p.missing)},
                                      {"events_with_invalid_id_lengths", index_map(p.id_lengths)}});
}

// ---------------------------------------------------------------------------------------------
// Routes.

IntakeReply upload(const IntakeRequest& request, const IntakeOptions& options, std::size_t limit) {
  IntakeReply reply;
  std::string storage;
  std::string_view body;
  if (!decode_body(request, limit, false, &storage, &body, &reply)) return reply;
  if (blank(body)) return error_reply(400, "Missing request body");

  Document doc;
  const bool parsed = read_json(body, Reader::Layout::kUpload, options, &doc);
  if (doc.too_many) return too_large_reply();
  if (!parsed || !doc.root_object) return error_reply(400, "Invalid JSON request body");
  // The key before anything about the events: a sender without it learns nothing more.
  if (doc.api_key.type == Type::kAbsent || doc.api_key.type == Type::kNull) {
    return missing_field_reply("api_key");
  }
  if (doc.api_key.type != Type::kString || !same_key(doc.api_key.text, options.api_key)) {
    IntakeReply r = error_reply(400, "Invalid API key");
    r.wrong_key = true;
    return r;
  }
  if (doc.events == Type::kAbsent || doc.events == Type::kNull)
    return missing_field_reply("events");
  if (doc.events != Type::kArray) return error_reply(400, "Invalid event JSON");

  const Context ctx{min_id_length(doc, options), options.max_string_length, to_ms(request.now),
                    request.peer_address, false};
  Problems problems;
  std::vector<IntakeEvent> accepted;
  if (!validate_all(doc, ctx, &problems, &accepted)) return problems_reply(problems);
  reply = json_reply(200, ordered_json{{"code", 200},
                                       {"events_ingested", accepted.size()},
                                       {"payload_size_bytes", body.size()},
                                       {"server_upload_time", to_ms(request.now)}});
  reply.events = std::move(accepted);
  return reply;
}

// ---------------------------------------------------------------------------------------------
// /identify's form.

using Fields = std::vector<std::pair<std::string, std::string>>;

// A parameter of a header value ("multipart/form-data; boundary=…"), unquoted; "" when absent.
std::string header_param(std::string_view value, std::string_view name) {
  std::size_t semi = value.find(';');
  while (semi != std::string_view::npos) {
    value.remove_prefix(semi + 1);
    semi = value.find(';');
    const std::string_view part = trim(value.substr(0, semi));
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || !http::ascii::iequals(trim(part.substr(0, eq)), name)) {
      continue;
    }
    std::string_view v = trim(part.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return "";
}

// multipart/form-data (RFC 7578): each part's name and body. A malformed body gives the parts
// read before the fault (the reply then says which field is missing).
Fields parse_multipart(std::string_view body, std::string_view boundary) {
  Fields out;
  if (boundary.empty()) return out;
  const std::string delimiter = "--" + std::string(boundary);
  std::size_t pos = body.find(delimiter);
  while (pos != std::string_view::npos) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") break;  // the closing delimiter
    const std::size_t line_end = body.find('\n', pos);
    if (line_end == std::string_view::npos) break;
    const std::size_t start = line_end + 1;
    const std::size_t next = body.find(delimiter, start);
    if (next == std::string_view::npos) break;
    std::string_view part = body.substr(start, next - start);
    // The part's own line break before the next delimiter belongs to the delimiter.
    if (!part.empty() && part.back() == '\n') part.remove_suffix(1);
    if (!part.empty() && part.back() == '\r') part.remove_suffix(1);
    std::size_t head_end = part.find("\r\n\r\n");
    std::size_t skip = 4;
    if (head_end == std::string_view::npos) {
      head_end = part.find("\n\n");
      skip = 2;
    }
    if (head_end != std::string_view::npos) {
      std::string_view headers = part.substr(0, head_end);
      std::string name;
      while (!headers.empty()) {
        const std::size_t eol = headers.find('\n');
        std::string_view line = headers.substr(0, eol);
        headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        const std::size_t colon = line.find(':');
        if (colon != std::string_view::npos &&
            http::ascii::iequals(trim(line.substr(0, colon)), "content-disposition")) {
          name = header_param(line.substr(colon + 1), "name");
        }
      }
      if (!name.empty())
        out.emplace_back(std::move(name), std::string(part.substr(head_end + skip)));
    }
    pos = next;
  }
  return out;
}

const std::string* find_field(const Fields& fields, std::string_view name) {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace

IntakeReply intake_httpapi(const IntakeRequest& request, const IntakeOptions& options) {
  return upload(request, options, options.max_httpapi_bytes);
}

IntakeReply intake_batch(const IntakeRequest& request, const IntakeOptions& options) {
  return upload(request, options, options.max_batch_bytes);
}

IntakeReply intake_identify(const IntakeRequest& request, const IntakeOptions& options) {
  IntakeReply reply;
  std::string storage;
  std::string_view body;
  if (!decode_body(request, options.max_identify_bytes, true, &storage, &body, &reply)) {
    return reply;
  }
  const std::string_view media =
      trim(request.content_type.substr(0, request.content_type.find(';')));
  const Fields form = http::ascii::iequals(media, "multipart/form-data")
                          ? parse_multipart(body, header_param(request.content_type, "boundary"))
                          : http::parse_query(body);
  const Fields query = http::parse_query(request.query);
  auto lookup = [&](std::string_view name) {
    const std::string* v = find_field(form, name);
    return v != nullptr ? v : find_field(query, name);
  };

  const std::string* key = lookup("api_key");
  if (key == nullptr || !same_key(*key, options.api_key)) {
    IntakeReply r = text_reply(400, "invalid_api_key");
    r.wrong_key = true;
    return r;
  }
  const std::string* identification = lookup("identification");
  if (identification == nullptr) return text_reply(400, "missing_event");

  Document doc;
  const bool parsed = read_json(*identification, Reader::Layout::kIdentification, options, &doc);
  if (doc.too_many) return text_reply(413, "Payload too large");
  if (!parsed || doc.events == Type::kAbsent || doc.raw.empty()) {
    return text_reply(400, "missing_event");
  }
  const Context ctx{min_id_length(doc, options), options.max_string_length, to_ms(request.now),
                    request.peer_address, true};
  Problems problems;
  std::vector<IntakeEvent> accepted;
  // A text answer cannot name indexes, so one invalid identification refuses them all.
  if (!validate_all(doc, ctx, &problems, &accepted)) return text_reply(400, "missing_event");
  reply = text_reply(200, "success");
  reply.events = std::move(accepted);
  return reply;
}

IntakeReply handle_intake(const IntakeRequest& request, const IntakeOptions& options) {
  std::string_view path = request.path;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/2/httpapi") return intake_httpapi(request, options);
  if (path == "/batch") return intake_batch(request, options);
  if (path == "/identify") return intake_identify(request, options);
  return error_reply(400, "Invalid request path");
}

bool is_user_property_operation(std::string_view key) {
  return std::find(kOperations.begin(), kOperations.end(), key) != kOperations.end();
}

std::string dedup_key(const IntakeEvent& event) {
  if (event.insert_id.empty()) return "";
  // Length-prefixed, so that no two (id, insert_id) pairs give the same key.
  const bool device = !event.device_id.empty();
  const std::string& id = device ? event.device_id : event.user_id;
  std::string key = device ? "d" : "u";
  key += std::to_string(id.size());
  key += ':';
  key += id;
  key += event.insert_id;
  return key;
}

IntakeReply throttled_reply(const Throttled& t) {
  ordered_json body{{"code", 429},
                    {"error", "Too many requests for some devices and users"},
                    {"eps_threshold", t.eps_threshold},
                    {"throttled_devices", ordered_json::object()},
                    {"throttled_users", ordered_json::object()},
                    {"throttled_events", t.events}};
  for (const auto& [id, eps] : t.devices)
    body["throttled_devices"][id] = eps;
  for (const auto& [id, eps] : t.users)
    body["throttled_users"][id] = eps;
  if (!t.quota_devices.empty()) {
    for (const auto& [id, n] : t.quota_devices)
      body["exceeded_daily_quota_devices"][id] = n;
  }
  if (!t.quota_users.empty()) {
    for (const auto& [id, n] : t.quota_users)
      body["exceeded_daily_quota_users"][id] = n;
  }
  return json_reply(429, body);
}

IntakeReply unavailable_reply() {
  return error_reply(503, "Service unavailable");
}

}  // namespace concord::amplitude
