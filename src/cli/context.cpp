// Opening what a command needs: the configuration, the store, the clients of each account.
#include "cli/cli.h"

#include "store/private_file.h"

namespace concord::cli {

Result<std::unique_ptr<Context>> Context::open(const Global& g, bool with_store, bool read_only) {
  auto ctx = std::unique_ptr<Context>(new Context());
  Result<Config> c = load_config(g.config);
  if (!c) return c.status();
  ctx->config_ = std::move(*c);
  if (with_store) {
    // The state directory holds the store, backups and secrets: this user's only (0700).
    if (Status s = make_private_dir(ctx->config_.state_dir); !s) {
      return s.with_context("the state directory");
    }
    const std::filesystem::path dir = ctx->config_.state_dir / "store";
    StoreOptions so;
    // Reading only needs a store to read; without one yet, it is made as usual.
    so.read_only = read_only && std::filesystem::exists(dir / "CURRENT");
    Result<std::unique_ptr<Store>> s = Store::open(dir, so);
    if (!s) return s.status().with_context("opening the store");
    ctx->store_ = std::move(*s);
  }
  return ctx;
}

Result<std::vector<const SyncConfig*>> Context::syncs(const std::string& name) const {
  std::vector<const SyncConfig*> out;
  if (!name.empty()) {
    Result<const SyncConfig*> s = config_.sync(name);
    if (!s) return s.status();
    out.push_back(*s);
    return out;
  }
  for (const SyncConfig& s : config_.syncs)
    out.push_back(&s);
  if (out.empty()) return Status::invalid(config_.path.string() + ": no [[sync]] is configured");
  return out;
}

Result<MailchimpClient*> Context::mailchimp(const std::string& account) {
  if (auto it = mailchimp_.find(account); it != mailchimp_.end()) return it->second.get();
  auto a = config_.mailchimp.find(account);
  if (a == config_.mailchimp.end()) {
    return Status::invalid("no Mailchimp account \"" + account + "\" is configured");
  }
  const MailchimpAccountConfig& cfg = a->second;
  Result<std::string> key =
      read_secret(cfg.api_key_env, "the API key of Mailchimp account \"" + account + "\"");
  if (!key) return key.status();
  MailchimpOptions o;
  o.api_key = std::move(*key);
  o.base_url = cfg.base_url;
  o.http.ca_file = cfg.ca_file;
  o.http.max_connections = cfg.max_connections;
  o.http.on_retry = [n = mailchimp_retries_](int, const Status&) { ++*n; };
  Result<std::unique_ptr<MailchimpClient>> client = MailchimpClient::create(std::move(o));
  if (!client) return client.status().with_context("Mailchimp account \"" + account + "\"");
  MailchimpClient* p = client->get();
  mailchimp_[account] = std::move(*client);
  return p;
}

Result<CiviCrmClient*> Context::civicrm(const std::string& connection) {
  if (auto it = civicrm_.find(connection); it != civicrm_.end()) return it->second.get();
  auto c = config_.civicrm.find(connection);
  if (c == config_.civicrm.end()) {
    return Status::invalid("no CiviCRM connection \"" + connection + "\" is configured");
  }
  const CiviCrmConfig& cfg = c->second;
  const std::string what = "CiviCRM connection \"" + connection + "\"";
  CiviCrmOptions o;
  Result<std::string> key = read_secret(cfg.api_key_env, "the API key of " + what);
  if (!key) return key.status();
  o.api_key = std::move(*key);
  if (!cfg.site_key_env.empty()) {
    Result<std::string> site = read_secret(cfg.site_key_env, "the site key of " + what);
    if (!site) return site.status();
    o.site_key = std::move(*site);
  }
  o.url = cfg.url;
  o.timezone = cfg.timezone;
  o.http.ca_file = cfg.ca_file;
  o.http.max_connections = cfg.max_connections;
  o.http.on_retry = [n = crm_retries_](int, const Status&) { ++*n; };
  Result<std::unique_ptr<CiviCrmClient>> client = CiviCrmClient::create(std::move(o));
  if (!client) return client.status().with_context(what);
  CiviCrmClient* p = client->get();
  civicrm_[connection] = std::move(*client);
  return p;
}

namespace {

// The source's section of the configuration, or kInvalid naming what is missing.
template <typename Section>
Result<const Section*> section(const std::map<std::string, Section>& all, const std::string& name,
                               std::string_view kind) {
  auto it = all.find(name);
  if (it == all.end()) {
    return Status::invalid("no [" + std::string(kind) + "." + name + "] is configured");
  }
  return &it->second;
}

}  // namespace

Result<std::unique_ptr<SourceReader>> Context::source_reader(const SyncConfig& sync) {
  std::vector<std::string> fields;
  for (const FieldMapping& f : sync.fields)
    fields.push_back(f.crm_field);
  const std::string name = sync.source;
  const std::string what =
      std::string(people_kind_name(sync.people)) + " connection \"" + name + "\"";
  auto retries = [n = crm_retries_](int, const Status&) { ++*n; };
  switch (sync.people) {
    case PeopleKind::kAuth0: {
      if (!auth0_.count(name)) {
        Result<const Auth0Config*> cfg = section(config_.auth0, name, "auth0");
        if (!cfg) return cfg.status();
        Auth0Options o;
        Result<std::string> secret =
            read_secret((*cfg)->client_secret_env, "the client secret of " + what);
        if (!secret) return secret.status();
        o.client_secret = std::move(*secret);
        o.domain = (*cfg)->domain;
        o.client_id = (*cfg)->client_id;
        o.base_url = (*cfg)->base_url;
        o.http.ca_file = (*cfg)->ca_file;
        o.http.on_retry = retries;
        Result<std::unique_ptr<Auth0Client>> c = Auth0Client::create(std::move(o));
        if (!c) return c.status().with_context(what);
        auth0_[name] = std::move(*c);
      }
      return auth0_[name]->reader(sync.connection, sync.verified_only, std::move(fields));
    }
    case PeopleKind::kMixpanel: {
      if (!mixpanel_.count(name)) {
        Result<const MixpanelConfig*> cfg = section(config_.mixpanel, name, "mixpanel");
        if (!cfg) return cfg.status();
        MixpanelOptions o;
        Result<std::string> secret = read_secret((*cfg)->secret_env, "the secret of " + what);
        if (!secret) return secret.status();
        o.secret = std::move(*secret);
        o.project_id = (*cfg)->project_id;
        o.service_account = (*cfg)->service_account;
        o.region = (*cfg)->region;
        o.base_url = (*cfg)->base_url;
        o.http.ca_file = (*cfg)->ca_file;
        o.http.on_retry = retries;
        Result<std::unique_ptr<MixpanelClient>> c = MixpanelClient::create(std::move(o));
        if (!c) return c.status().with_context(what);
        mixpanel_[name] = std::move(*c);
      }
      return mixpanel_[name]->reader(sync.cohort, std::move(fields));
    }
    case PeopleKind::kAmplitude: {
      if (!amplitude_.count(name)) {
        Result<const AmplitudeConfig*> cfg = section(config_.amplitude, name, "amplitude");
        if (!cfg) return cfg.status();
        AmplitudeOptions o;
        Result<std::string> key = read_secret((*cfg)->api_key_env, "the API key of " + what);
        if (!key) return key.status();
        Result<std::string> secret =
            read_secret((*cfg)->secret_key_env, "the secret key of " + what);
        if (!secret) return secret.status();
        o.api_key = std::move(*key);
        o.secret_key = std::move(*secret);
        o.region = (*cfg)->region;
        o.base_url = (*cfg)->base_url;
        o.http.ca_file = (*cfg)->ca_file;
        o.http.on_retry = retries;
        Result<std::unique_ptr<AmplitudeClient>> c = AmplitudeClient::create(std::move(o));
        if (!c) return c.status().with_context(what);
        amplitude_[name] = std::move(*c);
      }
      return amplitude_[name]->reader(sync.cohort, std::move(fields));
    }
    case PeopleKind::kMautic: {
      Result<MauticClient*> c = mautic(name);
      if (!c) return c.status();
      return std::unique_ptr<SourceReader>((*c)->reader(sync.segment, std::move(fields)));
    }
    case PeopleKind::kCivicrm:
      break;
  }
  return Status::invalid("sync \"" + sync.name + "\" has no one-way source");
}

Result<MauticClient*> Context::mautic(const std::string& name) {
  if (auto it = mautic_.find(name); it != mautic_.end()) return it->second.get();
  Result<const MauticConfig*> cfg = section(config_.mautic, name, "mautic");
  if (!cfg) return cfg.status();
  const std::string what = "mautic connection \"" + name + "\"";
  MauticOptions o;
  o.base_url = (*cfg)->url;
  if ((*cfg)->oauth()) {
    Result<std::string> secret =
        read_secret((*cfg)->client_secret_env, "the OAuth2 client secret of " + what);
    if (!secret) return secret.status();
    o.client_id = (*cfg)->client_id;
    o.client_secret = std::move(*secret);
  } else {
    Result<std::string> password = read_secret((*cfg)->password_env, "the password of " + what);
    if (!password) return password.status();
    o.username = (*cfg)->username;
    o.password = std::move(*password);
  }
  o.http.ca_file = (*cfg)->ca_file;
  o.http.on_retry = [n = crm_retries_](int, const Status&) { ++*n; };
  Result<std::unique_ptr<MauticClient>> c = MauticClient::create(std::move(o));
  if (!c) return c.status().with_context(what);
  MauticClient* out = c->get();
  mautic_[name] = std::move(*c);
  return out;
}

Result<Context::Pair> Context::pair(const SyncConfig& sync) {
  Pair p;
  Result<const PairHandle*> h = store_->pair(sync.name);
  if (!h) return h.status();
  p.handle = *h;
  Result<MailchimpClient*> mc = mailchimp(sync.mailchimp);
  if (!mc) return mc.status();
  MailchimpTarget target;
  target.kind = sync.target;
  target.tag = sync.tag;
  target.interest = sync.interest;
  if (sync.one_way()) {
    Result<std::unique_ptr<SourceReader>> reader = source_reader(sync);
    if (!reader) return reader.status();
    // A cohort's tag is named after the cohort unless the sync names it.
    SourceReader* source = reader->get();
    target.tag_name = [source]() -> Result<std::string> {
      if (Status s = source->resolve(); !s) return s;
      return source->set_name();
    };
    SourceSideOptions o;
    switch (sync.people) {
      case PeopleKind::kAuth0:
        o.origin = Origin::kAuth0;
        o.set = sync.connection;
        break;
      case PeopleKind::kMixpanel:
        o.origin = Origin::kMixpanel;
        o.set = sync.cohort;
        break;
      case PeopleKind::kAmplitude:
        o.origin = Origin::kAmplitude;
        o.set = sync.cohort;
        break;
      case PeopleKind::kMautic:
        o.origin = Origin::kMautic;
        o.set = sync.segment;
        break;
      case PeopleKind::kCivicrm:
        break;
    }
    o.verified_only = sync.verified_only;
    p.crm = source_side(std::move(*reader), std::move(o), system_clock());
  } else {
    Result<CiviCrmClient*> crm = civicrm(sync.civicrm);
    if (!crm) return crm.status();
    std::vector<std::string> fields;
    for (const FieldMapping& f : sync.fields)
      fields.push_back(f.crm_field);
    p.crm = civicrm_side(**crm, sync.group, std::move(fields));
  }
  p.mailchimp = mailchimp_side(**mc, sync.audience, sync.options.resubscribe, std::move(target));
  return p;
}

}  // namespace concord::cli
