// The kiosk's one full-screen window: the patient's screens (welcome, reading,
// what was found, receipt, failure) and, behind a PIN, the staff's (queue,
// session detail with candidates, directory search). It shows what the
// kiosk reports and asks the kiosk to act; it decides nothing itself.
#pragma once

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QStackedWidget>
#include <QTableWidget>
#include <QTimer>
#include <QWidget>

#include <map>
#include <optional>
#include <vector>

#include "bridge.h"

namespace discbridge::ui {

class KioskWindow : public QWidget {
  Q_OBJECT
 public:
  explicit KioskWindow(Bridge& bridge, QWidget* parent = nullptr);

  // The page on screen, by object name (welcome, reading, found, receipt,
  // failure, pin, queue, detail, search): for tests and the screenshot tool.
  QString page() const;
  std::int64_t patientSession() const { return patientSession_; }
  const QString& staffUser() const { return staffUser_; }
  // Fills and shows a patient page for a session as given (the screenshot
  // tool renders every screen this way).
  void showPatientPage(const kiosk::SessionInfo& info);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  QWidget* buildWelcome();
  QWidget* buildReading();
  QWidget* buildFound();
  QWidget* buildReceipt();
  QWidget* buildFailure();
  QWidget* buildPin();
  QWidget* buildQueue();
  QWidget* buildDetail();
  QWidget* buildSearch();
  QPushButton* button(const QString& text, const QString& name, const char* role = "");
  void showScreen(QWidget* page);
  void toWelcome();
  void clearPatientPages();

  void onSessionChanged(const kiosk::SessionInfo& info);
  void onSessionsListed(const std::vector<kiosk::SessionInfo>& list);
  void onAuthenticated(bool ok, const QString& user);
  void onCandidates(std::int64_t session, const std::vector<kiosk::PatientCandidates>& result, const QString& error);
  void onSearch(const std::vector<reconcile::Candidate>& result, const QString& error);
  void onActionDone(std::int64_t session, const QString& action, bool ok, const QString& error);

  void fillReading(const kiosk::SessionInfo& info);
  void fillFound(const kiosk::SessionInfo& info);
  void fillReceipt(const kiosk::SessionInfo& info);
  void fillFailure(const kiosk::SessionInfo& info);
  void fillQueue();
  void openDetail(std::int64_t session);
  void fillDetail();
  void fillComparison();
  void updateConfirmEnabled();
  void signOut();

  Bridge& bridge_;
  QStackedWidget* stack_ = nullptr;
  QWidget *welcome_ = nullptr, *reading_ = nullptr, *found_ = nullptr, *receipt_ = nullptr, *failure_ = nullptr;
  QWidget *pin_ = nullptr, *queue_ = nullptr, *detail_ = nullptr, *search_ = nullptr;
  QTimer idle_, receiptTimer_, staffIdle_;

  // patient side
  std::int64_t patientSession_ = 0;
  QProgressBar* readingBar_ = nullptr;
  QLabel* readingDetail_ = nullptr;
  QLabel* foundName_ = nullptr;
  QLabel* foundBirth_ = nullptr;
  QListWidget* foundStudies_ = nullptr;
  QLabel* receiptCode_ = nullptr;
  QLabel* failureTitle_ = nullptr;
  QLabel* failureMessage_ = nullptr;
  QLabel* failureCode_ = nullptr;

  // staff side
  QString staffUser_;
  QString pinEntered_;
  QLabel* pinDots_ = nullptr;
  QLabel* pinMessage_ = nullptr;
  std::map<std::int64_t, kiosk::SessionInfo> sessions_;
  QListWidget* queueList_ = nullptr;
  QLabel* queueHeader_ = nullptr;
  std::int64_t detailSession_ = 0;
  std::vector<kiosk::PatientCandidates> detailCandidates_;
  std::map<std::string, std::string> chosenMrn_;  // disc patient ID -> MRN
  int detailPatient_ = 0;
  QLabel* detailHeader_ = nullptr;
  QLabel* detailDisc_ = nullptr;
  QComboBox* detailPatientPick_ = nullptr;
  QListWidget* candidateList_ = nullptr;
  QTableWidget* comparison_ = nullptr;
  std::vector<QCheckBox*> destinationBoxes_;
  QComboBox* accession_ = nullptr;
  QPushButton *confirm_ = nullptr, *reject_ = nullptr, *retry_ = nullptr;
  QLabel* detailStatus_ = nullptr;
  bool rejectArmed_ = false;
  QLabel* searchInput_ = nullptr;
  QString searchText_;
  QListWidget* searchResults_ = nullptr;
  QPushButton* useResult_ = nullptr;
  QLabel* searchMessage_ = nullptr;
  bool searchChoosing_ = false;
  std::vector<reconcile::Candidate> searchFound_;
};

}  // namespace discbridge::ui
