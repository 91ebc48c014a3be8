#include "bridge.h"

#include <QMetaObject>
#include <QPointer>

namespace discbridge::ui {

Bridge::Bridge(kiosk::SessionManager& manager, QObject* parent)
    : QObject(parent), manager_(manager), alive_(std::make_shared<bool>(true)) {
  qRegisterMetaType<discbridge::kiosk::SessionInfo>();
  manager_.setListener([this, alive = std::weak_ptr<bool>(alive_)](const kiosk::SessionInfo& info) {
    if (alive.expired()) return;
    loadThumbnails(info);
    QMetaObject::invokeMethod(
        this, [this, info] { emit sessionChanged(info); }, Qt::QueuedConnection);
  });
}

// The manager's threads are joined before this object goes: nothing posted
// by them can outlive it.
Bridge::~Bridge() {
  manager_.stop();
  alive_.reset();
}

void Bridge::loadThumbnails(const kiosk::SessionInfo& info) {
  if (info.state != kiosk::SessionState::Spooled && info.state != kiosk::SessionState::AwaitingConfirmation) return;
  for (const auto& p : info.patients) {
    for (const auto& s : p.studies) {
      if (s.thumbnail.empty()) continue;
      const QString key = QString::fromStdString(s.thumbnail);
      {
        std::lock_guard lock(thumbMu_);
        if (thumbs_.contains(key)) continue;
      }
      QImage image(key);
      std::lock_guard lock(thumbMu_);
      if (thumbs_.size() > 200) thumbs_.clear();
      thumbs_.insert(key, image);
    }
  }
}

QImage Bridge::thumbnail(const std::string& file) const {
  std::lock_guard lock(thumbMu_);
  return thumbs_.value(QString::fromStdString(file));
}

// Runs f on the GUI thread unless the bridge is gone by then.
template <class F>
void Bridge::toGui(F&& f) {
  QPointer<Bridge> self(this);
  QMetaObject::invokeMethod(
      this,
      [self, f = std::forward<F>(f)]() mutable {
        if (self) f();
      },
      Qt::QueuedConnection);
}

void Bridge::refresh() {
  manager_.post([this] {
    auto list = manager_.sessions();
    toGui([this, list = std::move(list)] { emit sessionsListed(list); });
  });
}

void Bridge::authenticate(const QString& pin) {
  manager_.post([this, pin = pin.toStdString()] {
    auto user = manager_.authenticate(pin);
    toGui([this, user] { emit authenticated(user.has_value(), QString::fromStdString(user.value_or(""))); });
  });
}

void Bridge::candidates(std::int64_t session, const QString& user) {
  manager_.post([this, session, user = user.toStdString()] {
    auto r = manager_.candidates(session, user);
    std::vector<kiosk::PatientCandidates> list = r ? *r : std::vector<kiosk::PatientCandidates>{};
    QString err = r ? QString() : QString::fromStdString(r.error().message);
    toGui([this, session, list = std::move(list), err] { emit candidatesReady(session, list, err); });
  });
}

void Bridge::search(const QString& text, const QString& user) {
  manager_.post([this, text = text.toStdString(), user = user.toStdString()] {
    auto r = manager_.search(text, user);
    std::vector<reconcile::Candidate> list = r ? *r : std::vector<reconcile::Candidate>{};
    QString err = r ? QString() : QString::fromStdString(r.error().message);
    toGui([this, list = std::move(list), err] { emit searchReady(list, err); });
  });
}

void Bridge::confirm(std::int64_t session, const kiosk::Confirmation& c) {
  manager_.post([this, session, c] {
    auto r = manager_.confirm(session, c);
    QString err = r ? QString() : QString::fromStdString(r.error().message);
    toGui([this, session, ok = static_cast<bool>(r), err] { emit actionDone(session, "confirm", ok, err); });
  });
}

void Bridge::reject(std::int64_t session, const QString& user, const QString& reason) {
  manager_.post([this, session, user = user.toStdString(), reason = reason.toStdString()] {
    auto r = manager_.reject(session, user, reason);
    QString err = r ? QString() : QString::fromStdString(r.error().message);
    toGui([this, session, ok = static_cast<bool>(r), err] { emit actionDone(session, "reject", ok, err); });
  });
}

void Bridge::retry(std::int64_t session, const QString& user) {
  manager_.post([this, session, user = user.toStdString()] {
    auto r = manager_.retry(session, user);
    QString err = r ? QString() : QString::fromStdString(r.error().message);
    toGui([this, session, ok = static_cast<bool>(r), err] { emit actionDone(session, "retry", ok, err); });
  });
}

void Bridge::disown(std::int64_t session) {
  manager_.post([this, session] { (void)manager_.disown(session); });
}

void Bridge::logout(const QString& user) {
  manager_.post([this, user = user.toStdString()] { manager_.logout(user); });
}

}  // namespace discbridge::ui
