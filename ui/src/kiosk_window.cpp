#include "kiosk_window.h"

#include <QApplication>
#include <QEvent>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QPixmap>
#include <QScreen>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace discbridge::ui {
namespace {

using kiosk::SessionInfo;
using kiosk::SessionState;

QString qs(const std::string& s) { return QString::fromStdString(s); }

// "Family^Given^Middle" -> "Given Middle Family" for the patient, who reads
// their own name; staff see "Family, Given Middle".
QString displayName(const std::string& pn, bool formal) {
  QStringList parts = qs(pn).split('^');
  while (parts.size() < 3) parts << QString();
  QString given = (parts[1] + " " + parts[2]).trimmed();
  if (formal) return given.isEmpty() ? parts[0] : parts[0] + ", " + given;
  return (given + " " + parts[0]).trimmed();
}

QString displayDate(const std::string& da) {
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (da.size() != 8) return da.empty() ? QStringLiteral("unknown") : qs(da);
  int m = std::atoi(da.substr(4, 2).c_str());
  if (m < 1 || m > 12) return qs(da);
  return QString("%1 %2 %3").arg(std::atoi(da.substr(6, 2).c_str())).arg(months[m - 1]).arg(qs(da.substr(0, 4)));
}

QString megabytes(std::uint64_t bytes) { return QString::number(static_cast<double>(bytes) / 1e6, 'f', 0) + " MB"; }

QString stateText(SessionState s) {
  switch (s) {
    case SessionState::Reading: return "reading";
    case SessionState::Spooled: return "read";
    case SessionState::AwaitingConfirmation: return "awaiting confirmation";
    case SessionState::Queued: return "queued";
    case SessionState::Delivering: return "delivering";
    case SessionState::Done: return "delivered";
    case SessionState::Unreadable: return "unreadable";
    case SessionState::NoDicom: return "no images";
    case SessionState::DeliveryFailed: return "DELIVERY FAILED";
    case SessionState::Rejected: return "rejected";
  }
  return "";
}

QString agreementMark(reconcile::Agreement a) {
  switch (a) {
    case reconcile::Agreement::Exact: return QString::fromUtf8("\u2714 same");
    case reconcile::Agreement::Equivalent: return QString::fromUtf8("\u2714 equivalent");
    case reconcile::Agreement::Close: return QString::fromUtf8("\u2248 close");
    case reconcile::Agreement::Different: return QString::fromUtf8("\u2718 differs");
    case reconcile::Agreement::Missing: return QString::fromUtf8("\u2013 missing");
  }
  return {};
}

QColor agreementColour(reconcile::Agreement a) {
  switch (a) {
    case reconcile::Agreement::Exact:
    case reconcile::Agreement::Equivalent: return QColor(0xd7, 0xf5, 0xdd);
    case reconcile::Agreement::Close: return QColor(0xff, 0xf1, 0xc2);
    case reconcile::Agreement::Different: return QColor(0xff, 0xd6, 0xd6);
    case reconcile::Agreement::Missing: return QColor(0xee, 0xee, 0xee);
  }
  return {};
}

QString candidateLine(const reconcile::Candidate& c) {
  return QString("%1  %2  ·  MRN %3\n%4  ·  born %5  ·  %6")
      .arg(QString::number(c.score, 'f', 2), qs(reconcile::strengthName(c.strength)), qs(c.patient.mrn),
           displayName(reconcile::formatPersonName(c.patient.name), true), displayDate(c.patient.birthDate),
           c.patient.sex.empty() ? "sex ?" : qs(c.patient.sex));
}

QLabel* label(const QString& text, const char* role = "", const QString& name = {}) {
  auto* l = new QLabel(text);
  l->setWordWrap(true);
  l->setProperty("role", role);
  if (!name.isEmpty()) l->setObjectName(name);
  return l;
}

}  // namespace

KioskWindow::KioskWindow(Bridge& bridge, QWidget* parent) : QWidget(parent), bridge_(bridge) {
  setObjectName("kiosk");
  setWindowTitle("DiscBridge");
  // Touch targets of at least 9 mm wherever the screen reports its density;
  // never under 64 px.
  double dpi = screen() != nullptr ? screen()->physicalDotsPerInch() : 96.0;
  if (!(dpi > 30 && dpi < 1000)) dpi = 96.0;
  const int target = std::max(64, static_cast<int>(std::ceil(9.0 / 25.4 * dpi)));
  setStyleSheet(QString(R"(
    QWidget#kiosk { background: #f4f6f8; }
    QWidget { font-size: 22px; color: #1b2631; }
    QLabel[role="title"] { font-size: 40px; font-weight: bold; color: #0b3d91; }
    QLabel[role="big"] { font-size: 30px; }
    QLabel[role="code"] { font-size: 64px; font-weight: bold; letter-spacing: 8px; color: #0b3d91; }
    QLabel[role="warn"] { color: #a00000; font-weight: bold; }
    QLabel[role="small"] { font-size: 18px; color: #445; }
    QPushButton { min-height: %1px; min-width: %1px; padding: 6px 22px; border-radius: 10px;
                  background: #dfe6ee; border: 2px solid #9fb0c3; }
    QPushButton:pressed { background: #b8c7d9; }
    QPushButton:disabled { color: #99a; background: #eceff2; border-color: #d0d6dc; }
    QPushButton[role="primary"] { background: #0b6e4f; color: white; border-color: #084c37; font-weight: bold; }
    QPushButton[role="danger"] { background: #b00020; color: white; border-color: #7a0016; font-weight: bold; }
    QPushButton[role="quiet"] { background: transparent; border: 1px solid #c5ced8; color: #556; }
    QCheckBox::indicator { width: %2px; height: %2px; }
    QCheckBox { min-height: %1px; }
    QComboBox { min-height: %1px; padding: 0 16px; }
    QComboBox QAbstractItemView::item { min-height: %1px; }
    QListWidget::item { min-height: %1px; padding: 4px 8px; border-bottom: 1px solid #dde; }
    QListWidget::item:selected { background: #0b3d91; color: white; }
    QProgressBar { min-height: %1px; border: 2px solid #9fb0c3; border-radius: 10px; text-align: center; }
    QProgressBar::chunk { background: #0b6e4f; border-radius: 8px; }
  )")
                    .arg(target)
                    .arg(target / 2));

  stack_ = new QStackedWidget(this);
  auto* root = new QVBoxLayout(this);
  root->setContentsMargins(32, 24, 32, 24);
  root->addWidget(stack_);
  for (auto* p : {welcome_ = buildWelcome(), reading_ = buildReading(), found_ = buildFound(), receipt_ = buildReceipt(),
                  failure_ = buildFailure(), pin_ = buildPin(), queue_ = buildQueue(), detail_ = buildDetail(),
                  search_ = buildSearch()}) {
    stack_->addWidget(p);
  }
  const auto& k = bridge_.manager().config().kiosk;
  idle_.setSingleShot(true);
  idle_.setInterval(k.idleSeconds * 1000);
  connect(&idle_, &QTimer::timeout, this, [this] {
    if (stack_->currentWidget() != reading_ && staffUser_.isEmpty()) toWelcome();
  });
  receiptTimer_.setSingleShot(true);
  receiptTimer_.setInterval(k.receiptSeconds * 1000);
  connect(&receiptTimer_, &QTimer::timeout, this, [this] {
    if (stack_->currentWidget() == receipt_ || stack_->currentWidget() == failure_) toWelcome();
  });
  staffIdle_.setSingleShot(true);
  staffIdle_.setInterval(k.staffIdleSeconds * 1000);
  connect(&staffIdle_, &QTimer::timeout, this, [this] { signOut(); });

  connect(&bridge_, &Bridge::sessionChanged, this, &KioskWindow::onSessionChanged);
  connect(&bridge_, &Bridge::sessionsListed, this, &KioskWindow::onSessionsListed);
  connect(&bridge_, &Bridge::authenticated, this, &KioskWindow::onAuthenticated);
  connect(&bridge_, &Bridge::candidatesReady, this, &KioskWindow::onCandidates);
  connect(&bridge_, &Bridge::searchReady, this, &KioskWindow::onSearch);
  connect(&bridge_, &Bridge::actionDone, this, &KioskWindow::onActionDone);
  qApp->installEventFilter(this);
  showScreen(welcome_);
}

QString KioskWindow::page() const { return stack_->currentWidget()->objectName(); }

QPushButton* KioskWindow::button(const QString& text, const QString& name, const char* role) {
  auto* b = new QPushButton(text);
  b->setObjectName(name);
  b->setProperty("role", role);
  b->setFocusPolicy(Qt::NoFocus);
  return b;
}

void KioskWindow::showScreen(QWidget* page) {
  stack_->setCurrentWidget(page);
  if (page == welcome_ || page == reading_) {
    idle_.stop();
  } else if (staffUser_.isEmpty()) {
    idle_.start();
  }
}

bool KioskWindow::eventFilter(QObject* watched, QEvent* event) {
  switch (event->type()) {
    case QEvent::MouseButtonPress:
    case QEvent::TouchBegin:
    case QEvent::KeyPress:
      if (idle_.isActive()) idle_.start();
      if (staffIdle_.isActive()) staffIdle_.start();
      break;
    default:
      break;
  }
  return QWidget::eventFilter(watched, event);
}

// ---- patient screens --------------------------------------------------------

QWidget* KioskWindow::buildWelcome() {
  auto* w = new QWidget;
  w->setObjectName("welcome");
  auto* l = new QVBoxLayout(w);
  l->addStretch(2);
  l->addWidget(label("Welcome", "title"), 0, Qt::AlignHCenter);
  auto* insert = label("Please insert your imaging disc (CD or DVD)\ninto the drive, label side up.", "big");
  insert->setAlignment(Qt::AlignCenter);
  l->addWidget(insert);
  auto* keep = label("You will have it back in a few minutes. Your images then go to this hospital's records.", "small");
  keep->setAlignment(Qt::AlignCenter);
  l->addWidget(keep);
  l->addStretch(3);
  auto* row = new QHBoxLayout;
  row->addStretch();
  auto* staff = button("Staff", "staffButton", "quiet");
  connect(staff, &QPushButton::clicked, this, [this] {
    pinEntered_.clear();
    pinDots_->clear();
    pinMessage_->setText(bridge_.manager().defaultPinInUse()
                             ? "The default staff PIN is in use: set [kiosk.staff] in the configuration."
                             : QString());
    showScreen(pin_);
  });
  row->addWidget(staff);
  l->addLayout(row);
  return w;
}

QWidget* KioskWindow::buildReading() {
  auto* w = new QWidget;
  w->setObjectName("reading");
  auto* l = new QVBoxLayout(w);
  l->addStretch(2);
  l->addWidget(label("Reading your disc", "title"), 0, Qt::AlignHCenter);
  readingBar_ = new QProgressBar;
  readingBar_->setObjectName("readingBar");
  readingBar_->setRange(0, 1000);
  l->addWidget(readingBar_);
  readingDetail_ = label("", "big", "readingDetail");
  readingDetail_->setAlignment(Qt::AlignCenter);
  l->addWidget(readingDetail_);
  auto* wait = label("Please leave the disc in the drive. It comes out by itself when we are done.", "small");
  wait->setAlignment(Qt::AlignCenter);
  l->addWidget(wait);
  l->addStretch(3);
  return w;
}

QWidget* KioskWindow::buildFound() {
  auto* w = new QWidget;
  w->setObjectName("found");
  auto* l = new QVBoxLayout(w);
  l->addWidget(label("Your disc has been read. Please take it.", "title"));
  l->addWidget(label("We found these images on it:", "big"));
  foundName_ = label("", "big", "foundName");
  foundBirth_ = label("", "", "foundBirth");
  l->addWidget(foundName_);
  l->addWidget(foundBirth_);
  foundStudies_ = new QListWidget;
  foundStudies_->setObjectName("foundStudies");
  foundStudies_->setIconSize(QSize(128, 128));
  foundStudies_->setSelectionMode(QAbstractItemView::NoSelection);
  l->addWidget(foundStudies_, 1);
  l->addWidget(label("Are these your images?", "big"));
  auto* row = new QHBoxLayout;
  auto* yes = button("Yes, these are mine", "foundYes", "primary");
  auto* no = button("No, this is not my disc", "foundNo");
  row->addWidget(yes, 2);
  row->addWidget(no, 1);
  l->addLayout(row);
  auto finish = [this](bool mine) {
    auto it = sessions_.find(patientSession_);
    if (!mine && patientSession_ != 0) bridge_.disown(patientSession_);
    if (it != sessions_.end()) fillReceipt(it->second);
    showScreen(receipt_);
    receiptTimer_.start();
  };
  connect(yes, &QPushButton::clicked, this, [finish] { finish(true); });
  connect(no, &QPushButton::clicked, this, [finish] { finish(false); });
  return w;
}

QWidget* KioskWindow::buildReceipt() {
  auto* w = new QWidget;
  w->setObjectName("receipt");
  auto* l = new QVBoxLayout(w);
  l->addStretch(2);
  l->addWidget(label("Thank you. Please take your disc.", "title"), 0, Qt::AlignHCenter);
  auto* text = label("The front desk will add your images to your records. Your receipt code:", "big");
  text->setAlignment(Qt::AlignCenter);
  l->addWidget(text);
  receiptCode_ = label("", "code", "receiptCode");
  receiptCode_->setAlignment(Qt::AlignCenter);
  l->addWidget(receiptCode_);
  l->addStretch(3);
  auto* done = button("Finish", "receiptDone", "primary");
  connect(done, &QPushButton::clicked, this, [this] { toWelcome(); });
  l->addWidget(done, 0, Qt::AlignHCenter);
  return w;
}

QWidget* KioskWindow::buildFailure() {
  auto* w = new QWidget;
  w->setObjectName("failure");
  auto* l = new QVBoxLayout(w);
  l->addStretch(2);
  failureTitle_ = label("", "title", "failureTitle");
  failureTitle_->setAlignment(Qt::AlignCenter);
  l->addWidget(failureTitle_);
  failureMessage_ = label("", "big", "failureMessage");
  failureMessage_->setAlignment(Qt::AlignCenter);
  l->addWidget(failureMessage_);
  auto* desk = label("Please take your disc and see the front desk. Show them this code:", "big");
  desk->setAlignment(Qt::AlignCenter);
  l->addWidget(desk);
  failureCode_ = label("", "code", "failureCode");
  failureCode_->setAlignment(Qt::AlignCenter);
  l->addWidget(failureCode_);
  l->addStretch(3);
  auto* ok = button("OK", "failureDone", "primary");
  connect(ok, &QPushButton::clicked, this, [this] { toWelcome(); });
  l->addWidget(ok, 0, Qt::AlignHCenter);
  return w;
}

void KioskWindow::clearPatientPages() {
  // Nothing of one patient may remain for the next to see.
  readingBar_->setValue(0);
  readingDetail_->clear();
  foundName_->clear();
  foundBirth_->clear();
  foundStudies_->clear();
  receiptCode_->clear();
  failureTitle_->clear();
  failureMessage_->clear();
  failureCode_->clear();
}

void KioskWindow::toWelcome() {
  receiptTimer_.stop();
  clearPatientPages();
  patientSession_ = 0;
  showScreen(welcome_);
}

void KioskWindow::fillReading(const SessionInfo& info) {
  const auto& p = info.progress;
  readingBar_->setValue(p.bytesTotal > 0 ? static_cast<int>(1000.0 * static_cast<double>(p.bytesDone) /
                                                             static_cast<double>(p.bytesTotal))
                                         : 0);
  QString text = QString("%1 of %2 files  ·  %3 of %4").arg(p.filesDone).arg(p.filesTotal).arg(megabytes(p.bytesDone), megabytes(p.bytesTotal));
  if (p.bytesPerSecond > 0) text += QString("  ·  %1 MB/s").arg(p.bytesPerSecond / 1e6, 0, 'f', 1);
  if (p.secondsLeft >= 0) {
    text += QString("\nabout %1 left").arg(p.secondsLeft < 90 ? QString("%1 s").arg(std::max(1, static_cast<int>(p.secondsLeft)))
                                                           : QString("%1 min").arg(static_cast<int>(p.secondsLeft / 60 + 0.5)));
  }
  readingDetail_->setText(text);
}

void KioskWindow::fillFound(const SessionInfo& info) {
  foundStudies_->clear();
  if (info.patients.empty()) return;
  const auto& first = info.patients.front();
  foundName_->setText("Name: " + displayName(first.name, false));
  foundBirth_->setText("Born: " + displayDate(first.birthDate));
  for (const auto& p : info.patients) {
    for (const auto& s : p.studies) {
      QString text = QString("%1   %2   %3\n%4 images")
                         .arg(displayDate(s.date), s.modalities.empty() ? "" : qs(s.modalities),
                              s.description.empty() ? QStringLiteral("(no description)") : qs(s.description))
                         .arg(s.instances);
      if (info.patients.size() > 1) text = displayName(p.name, false) + ":  " + text;
      auto* item = new QListWidgetItem(text);
      const QImage thumb = bridge_.thumbnail(s.thumbnail);
      if (!thumb.isNull()) item->setIcon(QIcon(QPixmap::fromImage(thumb)));
      foundStudies_->addItem(item);
    }
  }
}

void KioskWindow::fillReceipt(const SessionInfo& info) { receiptCode_->setText(qs(info.receipt)); }

void KioskWindow::fillFailure(const SessionInfo& info) {
  failureTitle_->setText(info.state == SessionState::NoDicom ? "There are no images on this disc"
                                                             : "We could not read this disc");
  failureMessage_->setText(qs(info.message));
  failureCode_->setText(qs(info.receipt));
}

void KioskWindow::showPatientPage(const SessionInfo& info) {
  patientSession_ = info.id;
  sessions_[info.id] = info;
  switch (info.state) {
    case SessionState::Reading:
      fillReading(info);
      showScreen(reading_);
      break;
    case SessionState::Spooled:
    case SessionState::AwaitingConfirmation:
      fillFound(info);
      showScreen(found_);
      break;
    case SessionState::Unreadable:
    case SessionState::NoDicom:
      fillFailure(info);
      showScreen(failure_);
      receiptTimer_.start();
      break;
    default:
      fillReceipt(info);
      showScreen(receipt_);
      break;
  }
}

void KioskWindow::onSessionChanged(const SessionInfo& info) {
  const bool stateChanged = !sessions_.count(info.id) || sessions_[info.id].state != info.state;
  sessions_[info.id] = info;
  if (staffUser_.isEmpty()) {
    // A new disc takes the patient screens unless another patient is still
    // in the middle of theirs.
    QWidget* cur = stack_->currentWidget();
    const bool free = cur == welcome_ || cur == receipt_ || cur == failure_ || cur == pin_;
    if (info.id != patientSession_ && info.state == SessionState::Reading && free) {
      clearPatientPages();
      receiptTimer_.stop();
      showPatientPage(info);
    } else if (info.id == patientSession_) {
      if (info.state == SessionState::Reading) {
        fillReading(info);
      } else if (stateChanged && (cur == reading_ || cur == found_)) {
        // The disc is out: what was found (or why not), once.
        if (info.state == SessionState::Spooled || info.state == SessionState::AwaitingConfirmation ||
            info.state == SessionState::Unreadable || info.state == SessionState::NoDicom) {
          if (!(cur == found_ && info.state == SessionState::AwaitingConfirmation)) showPatientPage(info);
          else fillFound(info);
        }
      }
    }
  } else {
    if (stack_->currentWidget() == queue_ && (stateChanged || info.state != SessionState::Reading)) fillQueue();
    if (stack_->currentWidget() == detail_ && info.id == detailSession_) {
      if (stateChanged) {
        fillDetail();
      } else {
        fillComparison();
      }
    }
  }
}

// ---- staff screens ----------------------------------------------------------

QWidget* KioskWindow::buildPin() {
  auto* w = new QWidget;
  w->setObjectName("pin");
  auto* l = new QVBoxLayout(w);
  l->addWidget(label("Staff sign-in", "title"), 0, Qt::AlignHCenter);
  pinDots_ = label("", "code", "pinDots");
  pinDots_->setAlignment(Qt::AlignCenter);
  l->addWidget(pinDots_);
  pinMessage_ = label("", "warn", "pinMessage");
  pinMessage_->setAlignment(Qt::AlignCenter);
  l->addWidget(pinMessage_);
  auto* grid = new QGridLayout;
  auto press = [this](const QString& d) {
    if (pinEntered_.size() >= 12) return;
    pinEntered_ += d;
    pinDots_->setText(QString(pinEntered_.size(), QChar(0x25CF)));
  };
  for (int d = 1; d <= 9; ++d) {
    auto* b = button(QString::number(d), QString("pin%1").arg(d));
    connect(b, &QPushButton::clicked, this, [press, d] { press(QString::number(d)); });
    grid->addWidget(b, (d - 1) / 3, (d - 1) % 3);
  }
  auto* clear = button("Clear", "pinClear");
  auto* zero = button("0", "pin0");
  auto* ok = button("OK", "pinOk", "primary");
  connect(zero, &QPushButton::clicked, this, [press] { press("0"); });
  connect(clear, &QPushButton::clicked, this, [this] {
    pinEntered_.clear();
    pinDots_->clear();
  });
  connect(ok, &QPushButton::clicked, this, [this] {
    pinMessage_->setText("Checking…");
    bridge_.authenticate(pinEntered_);
    pinEntered_.clear();
    pinDots_->clear();
  });
  grid->addWidget(clear, 3, 0);
  grid->addWidget(zero, 3, 1);
  grid->addWidget(ok, 3, 2);
  auto* pad = new QWidget;
  pad->setLayout(grid);
  pad->setMaximumWidth(520);
  l->addWidget(pad, 1, Qt::AlignHCenter);
  auto* cancel = button("Cancel", "pinCancel", "quiet");
  connect(cancel, &QPushButton::clicked, this, [this] { toWelcome(); });
  l->addWidget(cancel, 0, Qt::AlignHCenter);
  return w;
}

void KioskWindow::onAuthenticated(bool ok, const QString& user) {
  if (!ok) {
    pinMessage_->setText("Wrong PIN (or too many tries: wait a minute).");
    return;
  }
  staffUser_ = user;
  idle_.stop();
  clearPatientPages();
  patientSession_ = 0;
  staffIdle_.start();
  queueHeader_->setText("Discs  ·  signed in as " + user);
  showScreen(queue_);
  bridge_.refresh();
}

void KioskWindow::signOut() {
  if (staffUser_.isEmpty()) return;
  bridge_.logout(staffUser_);
  staffUser_.clear();
  staffIdle_.stop();
  detailSession_ = 0;
  detailCandidates_.clear();
  chosenMrn_.clear();
  searchFound_.clear();
  searchResults_->clear();
  candidateList_->clear();
  comparison_->setRowCount(0);
  toWelcome();
}

QWidget* KioskWindow::buildQueue() {
  auto* w = new QWidget;
  w->setObjectName("queue");
  auto* l = new QVBoxLayout(w);
  queueHeader_ = label("Discs", "title");
  l->addWidget(queueHeader_);
  queueList_ = new QListWidget;
  queueList_->setObjectName("queueList");
  l->addWidget(queueList_, 1);
  auto* row = new QHBoxLayout;
  auto* open = button("Open", "openSession", "primary");
  auto* find = button("Find a patient", "findPatient");
  auto* out = button("Sign out", "signOut", "quiet");
  row->addWidget(open, 2);
  row->addWidget(find, 1);
  row->addWidget(out, 1);
  l->addLayout(row);
  connect(open, &QPushButton::clicked, this, [this] {
    auto* item = queueList_->currentItem();
    if (item != nullptr) openDetail(item->data(Qt::UserRole).toLongLong());
  });
  connect(queueList_, &QListWidget::itemActivated, this,
          [this](QListWidgetItem* item) { openDetail(item->data(Qt::UserRole).toLongLong()); });
  connect(find, &QPushButton::clicked, this, [this] {
    searchChoosing_ = false;
    useResult_->setVisible(false);
    showScreen(search_);
  });
  connect(out, &QPushButton::clicked, this, [this] { signOut(); });
  return w;
}

void KioskWindow::onSessionsListed(const std::vector<SessionInfo>& list) {
  for (const auto& s : list) sessions_[s.id] = s;
  if (stack_->currentWidget() == queue_) fillQueue();
}

void KioskWindow::fillQueue() {
  const std::int64_t selected = queueList_->currentItem() != nullptr ? queueList_->currentItem()->data(Qt::UserRole).toLongLong() : 0;
  queueList_->clear();
  // What needs a person first, newest first within each group.
  auto rank = [](SessionState s) {
    switch (s) {
      case SessionState::AwaitingConfirmation:
      case SessionState::DeliveryFailed: return 0;
      case SessionState::Reading:
      case SessionState::Spooled:
      case SessionState::Queued:
      case SessionState::Delivering: return 1;
      default: return 2;
    }
  };
  std::vector<const SessionInfo*> order;
  for (const auto& [id, s] : sessions_) order.push_back(&s);
  std::sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
    return rank(a->state) != rank(b->state) ? rank(a->state) < rank(b->state) : a->id > b->id;
  });
  for (const auto* s : order) {
    QString who = s->patients.empty() ? QStringLiteral("(no patient)") : displayName(s->patients.front().name, true);
    if (s->patients.size() > 1) who += QString(" +%1 more").arg(s->patients.size() - 1);
    QString born = s->patients.empty() ? QString() : "born " + displayDate(s->patients.front().birthDate);
    std::size_t studies = 0;
    for (const auto& p : s->patients) studies += p.studies.size();
    QString text = QString("%1   %2   %3   %4 studies   —  %5").arg(qs(s->receipt), who, born).arg(studies).arg(stateText(s->state));
    if (s->patientDisowned) text += "   ⚠ patient says not theirs";
    auto* item = new QListWidgetItem(text);
    item->setData(Qt::UserRole, static_cast<qlonglong>(s->id));
    if (s->state == SessionState::DeliveryFailed || s->patientDisowned) item->setForeground(QColor(0xa0, 0, 0));
    queueList_->addItem(item);
    if (s->id == selected) queueList_->setCurrentItem(item);
  }
}

QWidget* KioskWindow::buildDetail() {
  auto* w = new QWidget;
  w->setObjectName("detail");
  auto* l = new QVBoxLayout(w);
  detailHeader_ = label("", "big", "detailHeader");
  l->addWidget(detailHeader_);
  detailPatientPick_ = new QComboBox;
  detailPatientPick_->setObjectName("detailPatient");
  connect(detailPatientPick_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (i < 0) return;
    detailPatient_ = i;
    fillComparison();
  });
  l->addWidget(detailPatientPick_);
  auto* cols = new QHBoxLayout;
  auto* left = new QVBoxLayout;
  detailDisc_ = label("", "", "detailDisc");
  left->addWidget(detailDisc_);
  candidateList_ = new QListWidget;
  candidateList_->setObjectName("candidateList");
  left->addWidget(candidateList_, 1);
  cols->addLayout(left, 1);
  comparison_ = new QTableWidget(0, 4);
  comparison_->setObjectName("comparison");
  comparison_->setHorizontalHeaderLabels({"field", "on the disc", "local patient", ""});
  comparison_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  comparison_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  comparison_->horizontalHeader()->setSectionResizeMode(3, QHeaderView::ResizeToContents);
  comparison_->verticalHeader()->setVisible(false);
  comparison_->verticalHeader()->setDefaultSectionSize(48);
  comparison_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  comparison_->setSelectionMode(QAbstractItemView::NoSelection);
  cols->addWidget(comparison_, 1);
  l->addLayout(cols, 1);
  connect(candidateList_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (detailPatient_ >= static_cast<int>(detailCandidates_.size())) return;
    auto& pc = detailCandidates_[static_cast<std::size_t>(detailPatient_)];
    if (row >= 0 && row < static_cast<int>(pc.candidates.size())) {
      chosenMrn_[pc.disc.patientId] = pc.candidates[static_cast<std::size_t>(row)].patient.mrn;
    }
    fillComparison();
  });

  auto* opts = new QHBoxLayout;
  for (const auto& d : bridge_.manager().destinationChoices()) {
    auto* box = new QCheckBox("to " + qs(d));
    box->setObjectName("destination:" + qs(d));
    box->setProperty("destination", qs(d));
    box->setChecked(destinationBoxes_.empty());
    connect(box, &QCheckBox::toggled, this, [this] { updateConfirmEnabled(); });
    destinationBoxes_.push_back(box);
    opts->addWidget(box);
  }
  accession_ = new QComboBox;
  accession_->setObjectName("accessionPolicy");
  accession_->addItem("keep accession numbers", "keep");
  accession_->addItem("clear accession numbers", "clear");
  accession_->addItem("use the order's accession", "replace");
  accession_->setCurrentIndex(std::max(0, accession_->findData(qs(bridge_.manager().config().coercion.accessionPolicy))));
  opts->addWidget(accession_);
  l->addLayout(opts);
  detailStatus_ = label("", "", "detailStatus");
  l->addWidget(detailStatus_);

  auto* row = new QHBoxLayout;
  confirm_ = button("Confirm import", "confirmButton", "primary");
  auto* find = button("Search directory", "searchButton");
  retry_ = button("Retry delivery", "retryButton");
  reject_ = button("Reject disc", "rejectButton", "danger");
  auto* back = button("Back", "backButton", "quiet");
  row->addWidget(confirm_, 2);
  row->addWidget(find, 1);
  row->addWidget(retry_, 1);
  row->addWidget(reject_, 1);
  row->addWidget(back, 1);
  l->addLayout(row);
  connect(confirm_, &QPushButton::clicked, this, [this] {
    kiosk::Confirmation c;
    c.mrnByPatientId = chosenMrn_;
    for (auto* b : destinationBoxes_) {
      if (b->isChecked()) c.destinations.push_back(b->property("destination").toString().toStdString());
    }
    c.accessionPolicy = accession_->currentData().toString().toStdString();
    c.staffUser = staffUser_.toStdString();
    confirm_->setEnabled(false);
    detailStatus_->setText("Confirming…");
    bridge_.confirm(detailSession_, c);
  });
  connect(reject_, &QPushButton::clicked, this, [this] {
    if (!rejectArmed_) {
      rejectArmed_ = true;
      reject_->setText("Press again: delete this disc's data");
      return;
    }
    rejectArmed_ = false;
    reject_->setText("Reject disc");
    bridge_.reject(detailSession_, staffUser_, "rejected by staff at the kiosk");
  });
  connect(retry_, &QPushButton::clicked, this, [this] { bridge_.retry(detailSession_, staffUser_); });
  connect(find, &QPushButton::clicked, this, [this] {
    searchChoosing_ = true;
    useResult_->setVisible(true);
    showScreen(search_);
  });
  connect(back, &QPushButton::clicked, this, [this] {
    detailSession_ = 0;
    showScreen(queue_);
    bridge_.refresh();
  });
  return w;
}

void KioskWindow::openDetail(std::int64_t session) {
  detailSession_ = session;
  detailCandidates_.clear();
  chosenMrn_.clear();
  detailPatient_ = 0;
  rejectArmed_ = false;
  reject_->setText("Reject disc");
  candidateList_->clear();
  comparison_->setRowCount(0);
  fillDetail();
  showScreen(detail_);
  auto it = sessions_.find(session);
  if (it != sessions_.end() && !it->second.patients.empty()) {
    detailStatus_->setText("Looking up local patients…");
    bridge_.candidates(session, staffUser_);
  }
}

void KioskWindow::fillDetail() {
  auto it = sessions_.find(detailSession_);
  if (it == sessions_.end()) return;
  const auto& s = it->second;
  QString head = QString("Disc %1  ·  %2  ·  %3 images  ·  %4").arg(qs(s.receipt), qs(s.volumeId.empty() ? s.source : s.volumeId)).arg(s.instances).arg(stateText(s.state));
  if (s.findings > 0) head += QString("  ·  %1 problems found on the disc").arg(s.findings);
  if (!s.message.empty()) head += "\n" + qs(s.message);
  if (s.patientDisowned) head += QString::fromUtf8("\n\u26a0 The patient said this is not their disc.");
  detailHeader_->setText(head);
  {
    QSignalBlocker block(detailPatientPick_);
    detailPatientPick_->clear();
    for (const auto& p : s.patients) {
      detailPatientPick_->addItem(QString("Disc patient %1  (ID %2)").arg(displayName(p.name, true), qs(p.patientId)));
    }
    detailPatientPick_->setCurrentIndex(std::min(detailPatient_, detailPatientPick_->count() - 1));
    detailPatientPick_->setVisible(s.patients.size() > 1);
  }
  retry_->setVisible(s.state == SessionState::DeliveryFailed);
  reject_->setEnabled(kiosk::rejectable(s.state));
  fillComparison();
}

void KioskWindow::fillComparison() {
  auto it = sessions_.find(detailSession_);
  if (it == sessions_.end()) return;
  const auto& s = it->second;
  QString status;
  if (!s.deliveryCounts.empty()) {
    status = "Delivery:";
    for (const auto& [state, n] : s.deliveryCounts) status += QString("  %1 %2").arg(qs(state)).arg(n);
    for (const auto& e : s.deliveryErrors) status += "\n" + qs(e);
  }
  if (!status.isEmpty()) detailStatus_->setText(status);
  if (detailPatient_ < 0 || detailPatient_ >= static_cast<int>(s.patients.size())) {
    detailDisc_->clear();
    updateConfirmEnabled();
    return;
  }
  const auto& dp = s.patients[static_cast<std::size_t>(detailPatient_)];
  QString disc = QString("<b>On the disc</b><br>%1<br>ID %2%3<br>born %4 · sex %5<br>%6 studies")
                     .arg(displayName(dp.name, true).toHtmlEscaped(), qs(dp.patientId).toHtmlEscaped(),
                          dp.issuer.empty() ? QString() : " (" + qs(dp.issuer).toHtmlEscaped() + ")",
                          displayDate(dp.birthDate), dp.sex.empty() ? "?" : qs(dp.sex))
                     .arg(dp.studies.size());
  for (const auto& c : dp.conflicts) disc += "<br><span style='color:#a00000'>CONFLICT: " + qs(c).toHtmlEscaped() + "</span>";
  detailDisc_->setText(disc);

  const kiosk::PatientCandidates* pc = nullptr;
  for (const auto& x : detailCandidates_) {
    if (x.disc.patientId == dp.patientId) pc = &x;
  }
  const int want = [&] {
    if (pc == nullptr) return -1;
    auto chosen = chosenMrn_.find(dp.patientId);
    for (std::size_t i = 0; chosen != chosenMrn_.end() && i < pc->candidates.size(); ++i) {
      if (pc->candidates[i].patient.mrn == chosen->second) return static_cast<int>(i);
    }
    return -1;
  }();
  {
    QSignalBlocker block(candidateList_);
    if (pc == nullptr || candidateList_->count() != static_cast<int>(pc->candidates.size())) {
      candidateList_->clear();
      if (pc != nullptr) {
        for (const auto& c : pc->candidates) candidateList_->addItem(candidateLine(c));
        if (pc->candidates.empty()) candidateList_->addItem("No local patient found: use Search directory.");
      }
    }
    candidateList_->setCurrentRow(want);
  }
  comparison_->setRowCount(0);
  if (pc != nullptr && want >= 0) {
    const auto& cand = pc->candidates[static_cast<std::size_t>(want)];
    for (const auto& f : cand.fields) {
      int r = comparison_->rowCount();
      comparison_->insertRow(r);
      QString mark = agreementMark(f.agreement);
      if (!f.note.empty()) mark += " (" + qs(f.note) + ")";
      const QString cells[] = {qs(f.field).replace('_', ' '), qs(f.disc), qs(f.local), mark};
      for (int c = 0; c < 4; ++c) {
        auto* item = new QTableWidgetItem(cells[c]);
        item->setBackground(agreementColour(f.agreement));
        comparison_->setItem(r, c, item);
      }
    }
  }
  updateConfirmEnabled();
}

void KioskWindow::updateConfirmEnabled() {
  auto it = sessions_.find(detailSession_);
  bool dest = std::any_of(destinationBoxes_.begin(), destinationBoxes_.end(), [](auto* b) { return b->isChecked(); });
  confirm_->setEnabled(it != sessions_.end() && it->second.state == SessionState::AwaitingConfirmation &&
                       !chosenMrn_.empty() && dest);
}

void KioskWindow::onCandidates(std::int64_t session, const std::vector<kiosk::PatientCandidates>& result,
                               const QString& error) {
  if (session != detailSession_) return;
  detailCandidates_ = result;
  detailStatus_->setText(error.isEmpty() ? QString() : "Patient directory: " + error);
  candidateList_->clear();
  fillComparison();
}

void KioskWindow::onActionDone(std::int64_t session, const QString& action, bool ok, const QString& error) {
  if (session != detailSession_) return;
  if (!ok) {
    detailStatus_->setText("Could not " + action + ": " + error);
    updateConfirmEnabled();
    return;
  }
  detailStatus_->setText(action == "confirm" ? "Confirmed: queued for delivery."
                         : action == "reject" ? "Rejected: the disc's data was deleted."
                                              : "Delivery queued again.");
  bridge_.refresh();
}

QWidget* KioskWindow::buildSearch() {
  auto* w = new QWidget;
  w->setObjectName("search");
  auto* l = new QVBoxLayout(w);
  l->addWidget(label("Find a local patient", "title"));
  l->addWidget(label("Family name, given name and birth date (e.g. DOE JANE 19700101), or an MRN.", "small"));
  searchInput_ = label("", "big", "searchInput");
  searchInput_->setStyleSheet("background: white; border: 2px solid #9fb0c3; border-radius: 8px; padding: 8px;");
  l->addWidget(searchInput_);
  auto* keys = new QGridLayout;
  const char* rows[] = {"1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"};
  auto setText = [this](const QString& t) {
    searchText_ = t;
    searchInput_->setText(t);
  };
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; rows[r][c] != '\0'; ++c) {
      QString k(QChar(rows[r][c]));
      auto* b = button(k, "key:" + k);
      connect(b, &QPushButton::clicked, this, [this, setText, k] { setText(searchText_ + k); });
      keys->addWidget(b, r, c);
    }
  }
  auto* space = button("Space", "key:space");
  auto* back = button(QString::fromUtf8("\u232b"), "key:back");
  auto* clear = button("Clear", "key:clear");
  connect(space, &QPushButton::clicked, this, [this, setText] { setText(searchText_ + " "); });
  connect(back, &QPushButton::clicked, this, [this, setText] { setText(searchText_.left(searchText_.size() - 1)); });
  connect(clear, &QPushButton::clicked, this, [setText] { setText(QString()); });
  keys->addWidget(space, 3, 7);
  keys->addWidget(back, 3, 8);
  keys->addWidget(clear, 3, 9);
  l->addLayout(keys);
  searchMessage_ = label("", "", "searchMessage");
  l->addWidget(searchMessage_);
  searchResults_ = new QListWidget;
  searchResults_->setObjectName("searchResults");
  l->addWidget(searchResults_, 1);
  auto* row = new QHBoxLayout;
  auto* run = button("Search", "runSearch", "primary");
  useResult_ = button("Use this patient", "useResult");
  auto* done = button("Back", "searchBack", "quiet");
  row->addWidget(run, 2);
  row->addWidget(useResult_, 2);
  row->addWidget(done, 1);
  l->addLayout(row);
  connect(run, &QPushButton::clicked, this, [this] {
    if (searchText_.trimmed().isEmpty()) return;
    searchMessage_->setText("Searching…");
    bridge_.search(searchText_.trimmed(), staffUser_);
  });
  connect(useResult_, &QPushButton::clicked, this, [this] {
    int row = searchResults_->currentRow();
    auto it = sessions_.find(detailSession_);
    if (row < 0 || row >= static_cast<int>(searchFound_.size()) || it == sessions_.end() ||
        detailPatient_ >= static_cast<int>(it->second.patients.size())) {
      return;
    }
    const auto& dp = it->second.patients[static_cast<std::size_t>(detailPatient_)];
    // The chosen patient joins the candidates, scored against the disc.
    auto scored = bridge_.manager().compare(dp, searchFound_[static_cast<std::size_t>(row)].patient);
    kiosk::PatientCandidates* pc = nullptr;
    for (auto& x : detailCandidates_) {
      if (x.disc.patientId == dp.patientId) pc = &x;
    }
    if (pc == nullptr) {
      detailCandidates_.push_back(kiosk::PatientCandidates{dp, {}});
      pc = &detailCandidates_.back();
    }
    auto same = std::find_if(pc->candidates.begin(), pc->candidates.end(),
                             [&](const auto& c) { return c.patient.mrn == scored.patient.mrn; });
    if (same == pc->candidates.end()) pc->candidates.push_back(scored);
    chosenMrn_[dp.patientId] = scored.patient.mrn;
    candidateList_->clear();
    showScreen(detail_);
    fillComparison();
  });
  connect(done, &QPushButton::clicked, this, [this] { showScreen(searchChoosing_ ? detail_ : queue_); });
  return w;
}

void KioskWindow::onSearch(const std::vector<reconcile::Candidate>& result, const QString& error) {
  searchFound_ = result;
  searchResults_->clear();
  for (const auto& c : result) searchResults_->addItem(candidateLine(c));
  searchMessage_->setText(!error.isEmpty() ? "Patient directory: " + error
                          : result.empty() ? QString("No patient found.")
                                           : QString("%1 found").arg(result.size()));
  if (!result.empty()) searchResults_->setCurrentRow(0);
}

}  // namespace discbridge::ui
