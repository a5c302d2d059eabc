// JsonGrammar: JSON Schema subset -> shape tree; JsonMatcher: byte-level pushdown automaton over
// it, used to mask tokens during sampling (response_format json_object / json_schema).
#include "server/json_grammar.h"

#include "server/api_error.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace slm::server {

enum class ShapeKind { any, object_free, object_fixed, array, string, number, integer, literals };

struct JsonShape {
    explicit JsonShape(ShapeKind k) : kind(k) {}
    ShapeKind kind;
    std::vector<std::pair<std::string, const JsonShape*>> properties;  // object_fixed: key as JSON text
    uint64_t all_mask = 0, required_mask = 0;                          // object_fixed: bits by property
    const JsonShape* items = nullptr;                                  // array
    std::vector<std::string> literals;                                 // literals: JSON texts
};

struct JsonShapeBuilder {
    JsonGrammar& grammar;
    std::string param;
    const JsonShape* any = nullptr;

    JsonShape* make(ShapeKind kind) {
        grammar.shapes_.push_back(std::make_unique<JsonShape>(kind));
        return grammar.shapes_.back().get();
    }
    const JsonShape* literal(std::vector<std::string> texts) {
        JsonShape* shape = make(ShapeKind::literals);
        shape->literals = std::move(texts);
        return shape;
    }
    [[noreturn]] void unsupported(const std::string& where, const std::string& what) {
        throw_invalid(param, fmt::format("'{}' at schema path '{}': {} (supported: type object with properties, "
                                         "array with items, string, number, integer, boolean, null, enum, const)",
                                         param, where.empty() ? "/" : where, what));
    }

    const JsonShape* build(const nlohmann::json& schema, const std::string& where, int depth) {
        if (depth > 32) unsupported(where, "schema nested too deeply");
        if (schema.is_boolean() && schema.get<bool>()) return any;
        if (!schema.is_object()) unsupported(where, "a schema must be an object");
        if (auto it = schema.find("const"); it != schema.end()) return literal({it->dump()});
        if (auto it = schema.find("enum"); it != schema.end()) {
            if (!it->is_array() || it->empty()) unsupported(where + "/enum", "enum must be a non-empty array");
            std::vector<std::string> texts;
            for (const auto& v : *it) texts.push_back(v.dump());
            return literal(std::move(texts));
        }
        for (const char* key : {"anyOf", "oneOf", "allOf", "$ref", "not", "if", "patternProperties"})
            if (schema.contains(key)) unsupported(where, fmt::format("'{}' is not supported", key));
        auto type_it = schema.find("type");
        if (type_it == schema.end()) {
            if (schema.contains("properties")) return object(schema, where, depth);
            return any;
        }
        if (!type_it->is_string()) unsupported(where + "/type", "type must be one string (type lists are not supported)");
        const std::string type = type_it->get<std::string>();
        if (type == "object") return object(schema, where, depth);
        if (type == "array") {
            const JsonShape* items = any;
            if (auto it = schema.find("items"); it != schema.end()) items = build(*it, where + "/items", depth + 1);
            JsonShape* shape = make(ShapeKind::array);
            shape->items = items;
            return shape;
        }
        if (type == "string") return make(ShapeKind::string);
        if (type == "number") return make(ShapeKind::number);
        if (type == "integer") return make(ShapeKind::integer);
        if (type == "boolean") return literal({"true", "false"});
        if (type == "null") return literal({"null"});
        unsupported(where + "/type", fmt::format("unknown type '{}'", type));
    }

    // Properties may come in any order (JSON objects are unordered), each at most once; those in
    // "required" must all be there before the object closes. No other keys are allowed.
    const JsonShape* object(const nlohmann::json& schema, const std::string& where, int depth) {
        auto it = schema.find("properties");
        if (it == schema.end()) return make(ShapeKind::object_free);
        if (!it->is_object()) unsupported(where + "/properties", "properties must be an object");
        if (it->size() > 64) unsupported(where + "/properties", "more than 64 properties");
        JsonShape* shape = make(ShapeKind::object_fixed);
        for (const auto& [name, sub] : it->items())
            shape->properties.emplace_back(nlohmann::json(name).dump(), build(sub, where + "/properties/" + name, depth + 1));
        shape->all_mask = shape->properties.size() == 64 ? ~uint64_t(0) : (uint64_t(1) << shape->properties.size()) - 1;
        if (auto req = schema.find("required"); req != schema.end()) {
            if (!req->is_array()) unsupported(where + "/required", "required must be an array of property names");
            for (const auto& name : *req) {
                const std::string key = name.is_string() ? nlohmann::json(name.get<std::string>()).dump() : "";
                size_t k = 0;
                while (k < shape->properties.size() && shape->properties[k].first != key) ++k;
                if (k == shape->properties.size())
                    unsupported(where + "/required", fmt::format("required names {}, which is not in properties", name.dump()));
                shape->required_mask |= uint64_t(1) << k;
            }
        }
        return shape;
    }
};

JsonGrammar::~JsonGrammar() = default;

std::shared_ptr<const JsonGrammar> JsonGrammar::any_object(std::shared_ptr<const TokenVocabulary> vocab) {
    auto grammar = std::shared_ptr<JsonGrammar>(new JsonGrammar());
    JsonShapeBuilder builder{*grammar, "response_format"};
    builder.any = builder.make(ShapeKind::any);
    grammar->any_ = builder.any;
    grammar->root_ = builder.make(ShapeKind::object_free);
    grammar->vocab_ = std::move(vocab);
    return grammar;
}

std::shared_ptr<const JsonGrammar> JsonGrammar::from_schema(const nlohmann::json& schema, const std::string& param,
                                                            std::shared_ptr<const TokenVocabulary> vocab) {
    auto grammar = std::shared_ptr<JsonGrammar>(new JsonGrammar());
    JsonShapeBuilder builder{*grammar, param};
    builder.any = builder.make(ShapeKind::any);
    grammar->any_ = builder.any;
    grammar->root_ = builder.build(schema, "", 0);
    grammar->vocab_ = std::move(vocab);
    return grammar;
}

// ---- the matcher ----

enum class FrameKind : uint8_t { value, object, array, string, number, literal };

// Object states: after '{', expecting a key (start), after a key (colon), after a value, after ','.
enum : uint8_t { o_start, o_colon, o_after_value, o_next_key };
enum : uint8_t { a_start, a_after_value };
enum : uint8_t { s_open, s_chars, s_escape, s_hex1, s_hex2, s_hex3, s_hex4 };
enum : uint8_t { n_start, n_minus, n_zero, n_int, n_dot, n_frac, n_e, n_esign, n_exp };

struct JsonMatcher::Frame {
    Frame(FrameKind k, const JsonShape* s) : kind(k), shape(s) {}
    FrameKind kind;
    const JsonShape* shape;
    uint8_t state = 0;
    uint16_t index = 0;  // object: property being read; number: length
    uint64_t used = 0;   // object: properties already given
    std::string text;    // literal: bytes matched so far
};

namespace {

bool is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

const std::vector<std::string>& any_literals() {
    static const std::vector<std::string> texts = {"true", "false", "null"};
    return texts;
}

}  // namespace

JsonMatcher::JsonMatcher(std::shared_ptr<const JsonGrammar> grammar) : grammar_(std::move(grammar)) {
    stack_.push_back(Frame(FrameKind::value, &grammar_->root()));
}
JsonMatcher::JsonMatcher(const JsonMatcher&) = default;
JsonMatcher& JsonMatcher::operator=(const JsonMatcher&) = default;
JsonMatcher::~JsonMatcher() = default;

bool JsonMatcher::complete() const { return stack_.empty(); }

bool JsonMatcher::can_end() const {
    if (stack_.empty()) return true;
    if (stack_.size() != 1) return false;
    const Frame& f = stack_.back();
    return f.kind == FrameKind::number &&
           (f.state == n_zero || f.state == n_int || f.state == n_frac || f.state == n_exp);
}

bool JsonMatcher::feed(std::string_view bytes) {
    for (char c : bytes)
        if (!feed_byte(static_cast<unsigned char>(c))) return false;
    return true;
}

bool JsonMatcher::feed_byte(unsigned char c) {
    // One whitespace character between tokens is allowed ("a": 1), no runs: small models would
    // otherwise spend their token budget on blanks.
    constexpr int max_whitespace_run = 1;
    for (int guard = 0; guard < 64; ++guard) {
        if (stack_.empty()) return false;
        Frame& f = stack_.back();
        const JsonShape* shape = f.shape;
        const bool structural = f.kind == FrameKind::value || f.kind == FrameKind::object || f.kind == FrameKind::array;
        if (structural && is_ws(c)) {
            if (++whitespace_run_ > max_whitespace_run) return false;
            return true;
        }
        if (structural) whitespace_run_ = 0;

        switch (f.kind) {
            case FrameKind::value: {
                // Replace this frame by the frame of the value that `c` starts.
                if (!shape) shape = &grammar_->any();
                ShapeKind k = shape->kind;
                Frame next{FrameKind::value, shape};
                if (k == ShapeKind::literals) {
                    next.kind = FrameKind::literal;
                } else if (c == '{' && (k == ShapeKind::any || k == ShapeKind::object_free || k == ShapeKind::object_fixed)) {
                    next.kind = FrameKind::object;
                    next.shape = k == ShapeKind::any ? nullptr : shape;  // null: free object of any values
                    f = next;
                    return true;
                } else if (c == '[' && (k == ShapeKind::any || k == ShapeKind::array)) {
                    next.kind = FrameKind::array;
                    next.shape = k == ShapeKind::any ? nullptr : shape->items;  // null: items of any shape
                    f = next;
                    return true;
                } else if (c == '"' && (k == ShapeKind::any || k == ShapeKind::string)) {
                    next.kind = FrameKind::string;
                } else if ((c == '-' || is_digit(c)) && (k == ShapeKind::any || k == ShapeKind::number || k == ShapeKind::integer)) {
                    next.kind = FrameKind::number;
                } else if (k == ShapeKind::any && (c == 't' || c == 'f' || c == 'n')) {
                    next.kind = FrameKind::literal;
                    next.shape = nullptr;  // null: true/false/null
                } else {
                    return false;
                }
                f = next;
                continue;  // feed c to the new frame
            }
            case FrameKind::object: {
                // A schema object takes its properties in any order, each once; it may close
                // when every required one is there. A free object takes any keys.
                const bool fixed = shape && shape->kind == ShapeKind::object_fixed;
                const uint64_t all = fixed ? shape->all_mask : 0;
                const bool more = fixed ? (f.used & all) != all : true;
                const bool can_close = !fixed || (f.used & shape->required_mask) == shape->required_mask;
                auto start_key = [&]() {
                    f.state = o_colon;
                    Frame key(fixed ? FrameKind::literal : FrameKind::string, nullptr);
                    key.state = fixed ? 1 : 0;  // literal state 1: one of the parent's unused keys
                    stack_.push_back(std::move(key));
                };
                if (f.state == o_start) {
                    if (c == '}' && can_close) { stack_.pop_back(); return true; }
                    if (c == '"' && more) { start_key(); continue; }
                    return false;
                }
                if (f.state == o_next_key) {
                    if (c != '"') return false;
                    start_key();
                    continue;
                }
                if (f.state == o_colon) {
                    if (c != ':') return false;
                    f.state = o_after_value;
                    // A free object's values may be anything (a null shape).
                    const JsonShape* value_shape = fixed ? shape->properties[f.index].second : nullptr;
                    stack_.push_back(Frame(FrameKind::value, value_shape));
                    return true;
                }
                // o_after_value
                if (c == ',' && more) {
                    f.state = o_next_key;
                    return true;
                }
                if (c == '}' && can_close) { stack_.pop_back(); return true; }
                return false;
            }
            case FrameKind::array: {
                if (f.state == a_start && c == ']') { stack_.pop_back(); return true; }
                if (f.state == a_start) {
                    f.state = a_after_value;
                    stack_.push_back(Frame(FrameKind::value, shape));
                    continue;
                }
                if (c == ',') { stack_.push_back(Frame(FrameKind::value, shape)); return true; }
                if (c == ']') { stack_.pop_back(); return true; }
                return false;
            }
            case FrameKind::string: {
                switch (f.state) {
                    case s_open:
                        if (c != '"') return false;
                        f.state = s_chars;
                        return true;
                    case s_chars:
                        if (c == '"') { stack_.pop_back(); return true; }
                        if (c == '\\') { f.state = s_escape; return true; }
                        return c >= 0x20;
                    case s_escape:
                        if (c == 'u') { f.state = s_hex1; return true; }
                        if (std::string_view("\"\\/bfnrt").find(char(c)) == std::string_view::npos) return false;
                        f.state = s_chars;
                        return true;
                    default:  // s_hex1..s_hex4
                        if (!is_hex(c)) return false;
                        f.state = f.state == s_hex4 ? uint8_t(s_chars) : uint8_t(f.state + 1);
                        return true;
                }
            }
            case FrameKind::number: {
                const bool integer = shape && shape->kind == ShapeKind::integer;
                const bool terminal = f.state == n_zero || f.state == n_int || f.state == n_frac || f.state == n_exp;
                uint8_t next = 255;
                switch (f.state) {
                    case n_start: next = c == '-' ? n_minus : c == '0' ? n_zero : is_digit(c) ? n_int : 255; break;
                    case n_minus: next = c == '0' ? n_zero : is_digit(c) ? n_int : 255; break;
                    case n_zero:
                    case n_int:
                        if (is_digit(c) && f.state == n_int) next = n_int;
                        else if (c == '.' && !integer) next = n_dot;
                        else if ((c == 'e' || c == 'E') && !integer) next = n_e;
                        break;
                    case n_dot: next = is_digit(c) ? n_frac : 255; break;
                    case n_frac:
                        next = is_digit(c) ? n_frac : (c == 'e' || c == 'E') ? n_e : 255;
                        break;
                    case n_e: next = (c == '+' || c == '-') ? n_esign : is_digit(c) ? n_exp : 255; break;
                    case n_esign: next = is_digit(c) ? n_exp : 255; break;
                    case n_exp: next = is_digit(c) ? n_exp : 255; break;
                }
                constexpr int max_number_length = 24;
                if (next != 255 && f.index < max_number_length) {
                    f.state = next;
                    ++f.index;
                    return true;
                }
                if (!terminal) return false;
                stack_.pop_back();
                continue;  // the number ended; c belongs to the parent
            }
            case FrameKind::literal: {
                // Candidates: the shape's literals, true/false/null for an `any` value, or the
                // expected key of the parent object (state 1).
                const std::vector<std::string>* candidates = nullptr;
                std::vector<std::string> key;
                Frame* parent = f.state == 1 ? &stack_[stack_.size() - 2] : nullptr;
                if (parent) {
                    const auto& props = parent->shape->properties;
                    for (size_t k = 0; k < props.size(); ++k)
                        if (!(parent->used >> k & 1)) key.push_back(props[k].first);
                    candidates = &key;
                } else {
                    candidates = shape ? &shape->literals : &any_literals();
                }
                std::string extended = f.text + char(c);
                bool extends = false, longer_exists = false, exact = false;
                for (const auto& cand : *candidates) {
                    if (cand.compare(0, extended.size(), extended) == 0) {
                        extends = true;
                        if (cand.size() > extended.size()) longer_exists = true;
                        if (cand.size() == extended.size()) exact = true;
                    }
                }
                if (extends) {
                    f.text = std::move(extended);
                    if (exact && !longer_exists) {  // fully matched, nothing longer
                        if (parent) {  // a key: the parent now reads that property's value
                            const auto& props = parent->shape->properties;
                            for (size_t k = 0; k < props.size(); ++k)
                                if (props[k].first == f.text) {
                                    parent->index = uint16_t(k);
                                    parent->used |= uint64_t(1) << k;
                                }
                        }
                        stack_.pop_back();
                    }
                    return true;
                }
                const bool matched = std::find(candidates->begin(), candidates->end(), f.text) != candidates->end();
                if (!matched) return false;
                stack_.pop_back();
                continue;
            }
        }
        return false;
    }
    return false;
}

void JsonMatcher::mask(std::span<float> logits) const {
    const TokenVocabulary& vocab = grammar_->vocabulary();
    const float neg_inf = -std::numeric_limits<float>::infinity();
    const size_t n = std::min(logits.size(), vocab.bytes.size());
    const bool end_ok = can_end();
    for (size_t id = 0; id < n; ++id) {
        if (logits[id] == neg_inf) continue;
        const std::string& bytes = vocab.bytes[id];
        if (bytes.empty()) {
            const bool is_end = std::find(vocab.end_ids.begin(), vocab.end_ids.end(), int32_t(id)) != vocab.end_ids.end();
            if (!(is_end && end_ok)) logits[id] = neg_inf;
            continue;
        }
        JsonMatcher trial(*this);
        if (!trial.feed(bytes)) logits[id] = neg_inf;
    }
    for (size_t id = n; id < logits.size(); ++id) logits[id] = neg_inf;
}

void JsonMatcher::accept(int32_t token) {
    const TokenVocabulary& vocab = grammar_->vocabulary();
    if (token < 0 || size_t(token) >= vocab.bytes.size()) return;
    const std::string& bytes = vocab.bytes[size_t(token)];
    if (!bytes.empty()) feed(bytes);
}

}  // namespace slm::server
