// The only door between the screens and the kiosk: the session manager's
// callbacks arrive here on kiosk threads and leave as queued Qt signals; every
// staff action is posted to the kiosk's worker and answers with a signal. The
// GUI thread never waits on media, network or disk.
#pragma once

#include <QHash>
#include <QImage>
#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>
#include <mutex>
#include <vector>

#include "discbridge/kiosk/session.h"

namespace discbridge::ui {

class Bridge : public QObject {
  Q_OBJECT
 public:
  explicit Bridge(kiosk::SessionManager& manager, QObject* parent = nullptr);
  ~Bridge() override;

  kiosk::SessionManager& manager() { return manager_; }
  // A study's thumbnail, read from disk on a kiosk thread before the
  // session's change was signalled; null when there is none.
  QImage thumbnail(const std::string& file) const;

  // Asynchronous: each answers with the signal of the same name.
  void refresh();
  void authenticate(const QString& pin);
  void candidates(std::int64_t session, const QString& user);
  void search(const QString& text, const QString& user);
  void confirm(std::int64_t session, const kiosk::Confirmation& confirmation);
  void reject(std::int64_t session, const QString& user, const QString& reason);
  void retry(std::int64_t session, const QString& user);
  void disown(std::int64_t session);
  void logout(const QString& user);

 signals:
  void sessionChanged(const discbridge::kiosk::SessionInfo& info);
  void sessionsListed(const std::vector<discbridge::kiosk::SessionInfo>& sessions);
  void authenticated(bool ok, const QString& user);
  void candidatesReady(std::int64_t session, const std::vector<discbridge::kiosk::PatientCandidates>& result,
                       const QString& error);
  void searchReady(const std::vector<discbridge::reconcile::Candidate>& result, const QString& error);
  void actionDone(std::int64_t session, const QString& action, bool ok, const QString& error);

 private:
  template <class F>
  void toGui(F&& f);
  void loadThumbnails(const kiosk::SessionInfo& info);
  kiosk::SessionManager& manager_;
  std::shared_ptr<bool> alive_;
  mutable std::mutex thumbMu_;
  QHash<QString, QImage> thumbs_;
};

}  // namespace discbridge::ui

Q_DECLARE_METATYPE(discbridge::kiosk::SessionInfo)
