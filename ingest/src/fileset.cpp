#include "discbridge/ingest/fileset.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <climits>
#include <thread>
#include <unordered_map>

#include "dicom_parse.h"
#include "dicomdir_check.h"
#include "discbridge/ingest/names.h"
#include "text.h"

namespace discbridge::ingest {
namespace {

using detail::FileKind;
using detail::ParsedFile;

struct WorkItem {
  std::size_t index = 0;
  std::vector<std::byte> bytes;
  std::string stagedPath;  // large files: parsed from a local copy
};

// Read-ahead between the reader (one thread, disc order) and the parsers,
// bounded by bytes so memory stays flat whatever the disc holds.
class WorkQueue {
 public:
  explicit WorkQueue(std::uint64_t capacity) : capacity_(capacity) {}

  void push(WorkItem item) {
    std::unique_lock lock(mu_);
    std::uint64_t n = item.bytes.size();
    notFull_.wait(lock, [&] { return queued_ == 0 || queued_ + n <= capacity_; });
    queued_ += n;
    items_.push_back(std::move(item));
    notEmpty_.notify_one();
  }

  bool pop(WorkItem& out) {
    std::unique_lock lock(mu_);
    notEmpty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    out = std::move(items_.front());
    items_.pop_front();
    queued_ -= out.bytes.size();
    notFull_.notify_all();
    return true;
  }

  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    notEmpty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable notFull_;
  std::condition_variable notEmpty_;
  std::deque<WorkItem> items_;
  std::uint64_t queued_ = 0;
  std::uint64_t capacity_;
  bool closed_ = false;
};

struct FileResult {
  ParsedFile parsed;
  bool readFailed = false;
  std::string readError;
};

bool namedDicomdir(const std::string& path) { return matchKey(baseName(path)) == "DICOMDIR"; }

std::string stagingPath(const std::string& tempDir) {
  std::filesystem::path dir = tempDir.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(tempDir);
  std::random_device rd;
  return (dir / ("discbridge-scan-" + std::to_string(rd()) + std::to_string(rd()) + ".tmp")).string();
}

Result<void> stageToFile(Medium& medium, const MediumEntry& entry, const std::string& dest) {
  std::ofstream out(dest, std::ios::binary | std::ios::trunc);
  if (!out) return makeError("STAGING_FAILED", "cannot write a staging file in the temporary directory");
  auto r = medium.read(entry, [&](std::span<const std::byte> chunk) {
    out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
    return static_cast<bool>(out);
  });
  if (!r) return r;
  out.close();
  if (!out) return makeError("STAGING_FAILED", "the staging file cannot be written completely");
  return {};
}

// A 64-bit FNV-1a digest, only used to tell duplicate files apart.
Result<std::uint64_t> digest(Medium& medium, const MediumEntry& entry) {
  std::uint64_t h = 1469598103934665603ull;
  auto r = medium.read(entry, [&](std::span<const std::byte> chunk) {
    for (std::byte b : chunk) h = (h ^ std::to_integer<std::uint64_t>(b)) * 1099511628211ull;
    return true;
  });
  if (!r) return r.error();
  return h;
}

long long numberOrMax(const std::string& s) {
  try {
    std::size_t used = 0;
    long long v = std::stoll(s, &used);
    return used > 0 ? v : LLONG_MAX;
  } catch (...) {
    return LLONG_MAX;
  }
}

class Scanner {
 public:
  Scanner(Medium& medium, const ScanOptions& options) : medium_(medium), options_(options) {}

  Result<FileSetReport> run(const std::string& source) {
    auto listing = medium_.list();
    if (!listing) return listing.error();
    report_.source = source;
    report_.mediumKind = medium_.kind();
    report_.volumeId = detail::sanitiseUtf8(medium_.volumeId());
    files_ = std::move(listing->files);
    // Disc order: a drive streams instead of seeking.
    std::stable_sort(files_.begin(), files_.end(),
                     [](const MediumEntry& a, const MediumEntry& b) { return a.firstSector < b.firstSector; });
    for (const auto& s : listing->skipped) {
      bool confine = s.find("confined") != std::string::npos;
      add(confine ? code::kPathOutsideMedium : code::kMediaReadError, confine ? Severity::Error : Severity::Warning,
          s, "skipped while listing the medium");
    }
    report_.summary.filesSeen = files_.size();
    results_.resize(files_.size());
    readAndParse();
    classify();
    resolveDuplicates();
    crossCheckDicomdirs();
    buildTree();
    conclude();
    for (auto& f : report_.findings) {
      f.path = detail::sanitiseUtf8(f.path);
      f.message = detail::sanitiseUtf8(f.message);
    }
    return std::move(report_);
  }

 private:
  void add(const char* c, Severity s, std::string path, std::string message) {
    report_.findings.push_back(Finding{c, s, std::move(path), std::move(message)});
  }

  void readAndParse() {
    unsigned threads = options_.parserThreads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency() - 1);
    WorkQueue queue(options_.queueBytes);
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        WorkItem item;
        while (queue.pop(item)) {
          const auto& entry = files_[item.index];
          bool dicomdir = namedDicomdir(entry.path);
          if (!item.stagedPath.empty()) {
            results_[item.index].parsed = detail::parseLocalFile(item.stagedPath, entry.size, dicomdir);
            std::error_code ec;
            std::filesystem::remove(item.stagedPath, ec);
          } else {
            results_[item.index].parsed = detail::parseBuffer(item.bytes, dicomdir);
          }
          item.bytes = {};
        }
      });
    }
    ScanProgress progress;
    progress.filesTotal = files_.size();
    for (const auto& f : files_) progress.bytesTotal += f.size;
    for (std::size_t i = 0; i < files_.size(); ++i) {
      const auto& entry = files_[i];
      WorkItem item;
      item.index = i;
      if (entry.size > options_.inMemoryLimit) {
        item.stagedPath = stagingPath(options_.tempDir);
        if (auto r = stageToFile(medium_, entry, item.stagedPath); !r) {
          std::error_code ec;
          std::filesystem::remove(item.stagedPath, ec);
          results_[i].readFailed = true;
          results_[i].readError = r.error().message;
          continue;
        }
      } else {
        auto bytes = readAll(medium_, entry, options_.inMemoryLimit);
        if (!bytes) {
          results_[i].readFailed = true;
          results_[i].readError = bytes.error().message;
          continue;
        }
        item.bytes = std::move(*bytes);
      }
      report_.summary.bytesRead += entry.size;
      queue.push(std::move(item));
      progress.filesDone = i + 1;
      progress.bytesDone += entry.size;
      if (options_.progress) options_.progress(progress);
    }
    queue.close();
    for (auto& w : workers) w.join();
  }

  void classify() {
    std::map<std::string, std::size_t> otherContent;
    for (std::size_t i = 0; i < files_.size(); ++i) {
      const auto& entry = files_[i];
      auto& r = results_[i];
      auto& p = r.parsed;
      p.instance.path = entry.path;
      p.instance.size = entry.size;
      p.instance.firstSector = entry.firstSector;
      bool dicomdirName = namedDicomdir(entry.path);
      if (r.readFailed) {
        add(code::kMediaReadError, Severity::Error, entry.path, r.readError + "; this file is lost, the rest of the medium is read");
        continue;
      }
      switch (p.kind) {
        case FileKind::DicomDir:
          if (dicomdirName) {
            dicomdirs_.push_back(i);
          } else {
            ++report_.summary.ignoredFiles;
            add(code::kNotDicom, Severity::Info, entry.path, "a copy of a DICOMDIR under another name; not used");
          }
          break;
        case FileKind::Corrupt:
          if (dicomdirName) {
            add(code::kDicomdirInvalid, Severity::Error, entry.path, "the DICOMDIR cannot be read: " + p.what);
            sawInvalidDicomdir_ = true;
          } else {
            ++report_.summary.corrupt;
            add(code::kCorruptInstance, Severity::Error, entry.path, p.what + "; not importable");
          }
          break;
        case FileKind::NotDicom: {
          if (dicomdirName) {
            add(code::kDicomdirInvalid, Severity::Error, entry.path, "named DICOMDIR but not DICOM (" + p.what + ")");
            sawInvalidDicomdir_ = true;
            break;
          }
          ++report_.summary.ignoredFiles;
          std::string what = matchKey(baseName(entry.path)) == "AUTORUN.INF"
                                 ? "autorun file (ignored; nothing on a disc is run)"
                                 : p.what;
          ++otherContent[what];
          add(code::kNotDicom, Severity::Info, entry.path, what + "; ignored");
          break;
        }
        case FileKind::Instance:
          candidates_.push_back(i);
          if (!p.instance.hasFileMeta) {
            add(code::kMissingFileMeta, Severity::Warning, entry.path,
                "a dataset without preamble and File Meta Information; a correct header is added when copied");
          }
          if (p.executablePreamble) {
            add(code::kExecutablePreamble, Severity::Warning, entry.path,
                "the 128-byte preamble holds executable code (CVE-2019-11687); it is zeroed when copied");
          }
          if (!p.charsetNote.empty()) add(code::kCharsetMislabelled, Severity::Warning, entry.path, p.charsetNote);
          if (!p.instance.supportedSopClass) {
            add(code::kUnsupportedSopClass, Severity::Warning, entry.path,
                "SOP Class " + p.instance.sopClassUid + " is unknown or private; kept, but viewers may not show it");
          }
          break;
      }
    }
    otherContent_ = std::move(otherContent);
  }

  void resolveDuplicates() {
    std::unordered_map<std::string, std::vector<std::size_t>> byUid;
    for (std::size_t i : candidates_) byUid[results_[i].parsed.instance.sopInstanceUid].push_back(i);
    for (auto& [uid, idx] : byUid) {
      if (idx.size() < 2) continue;
      std::vector<Result<std::uint64_t>> digests;
      bool same = true;
      for (std::size_t i : idx) {
        digests.push_back(digest(medium_, files_[i]));
        same = same && digests.back().ok() && files_[i].size == files_[idx[0]].size &&
               *digests.back() == *digests.front();
      }
      if (same) {
        for (std::size_t k = 1; k < idx.size(); ++k) {
          excluded_.insert(idx[k]);
          ++report_.summary.duplicates;
          add(code::kDuplicateInstance, Severity::Warning, files_[idx[k]].path,
              "identical copy of " + files_[idx[0]].path + "; one copy is imported");
        }
      } else {
        for (std::size_t i : idx) {
          excluded_.insert(i);
          ++report_.summary.duplicates;
          add(code::kDuplicateInstance, Severity::Error, files_[i].path,
              "SOP Instance UID " + uid + " is used by " + std::to_string(idx.size()) +
                  " files with different content; none of them is imported");
        }
      }
    }
  }

  void crossCheckDicomdirs() {
    std::unordered_map<std::string, std::size_t> byKey;
    for (std::size_t i = 0; i < files_.size(); ++i) byKey.emplace(matchKey(files_[i].path), i);
    std::vector<bool> referenced(files_.size(), false);
    bool usable = false;
    for (std::size_t d : dicomdirs_) {
      const std::string& ddPath = files_[d].path;
      std::string dir = parentOf(ddPath);
      detail::DicomdirContent content;
      try {
        content = detail::readDicomdir(*results_[d].parsed.dicomdir);
      } catch (const std::exception& e) {
        results_[d].parsed.dicomdir.reset();
        add(code::kDicomdirInvalid, Severity::Error, ddPath, std::string("the DICOMDIR cannot be read: ") + e.what());
        sawInvalidDicomdir_ = true;
        continue;
      }
      results_[d].parsed.dicomdir.reset();
      if (!dir.empty()) content.problems.insert(content.problems.begin(), "not in the root directory of the medium");
      if (!content.problems.empty()) {
        std::string msg;
        for (const auto& p : content.problems) msg += (msg.empty() ? "" : "; ") + p;
        add(code::kDicomdirNonconformant, Severity::Warning, ddPath, msg);
      }
      usable = true;
      std::map<std::size_t, int> seen;
      for (const auto& ref : content.references) {
        if (!ref.components) {
          add(code::kPathOutsideMedium, Severity::Error, ddPath,
              "a " + ref.recordType + " record references '" + ref.rawFileId +
                  "', which would leave the file-set; refused and never read");
          continue;
        }
        std::string rel;
        for (const auto& c : *ref.components) rel += (rel.empty() ? "" : "/") + c;
        std::string full = dir.empty() ? rel : dir + "/" + rel;
        auto it = byKey.find(matchKey(full));
        if (it == byKey.end()) {
          add(code::kDicomdirMissingFile, Severity::Warning, full,
              "referenced by the DICOMDIR (" + ref.rawFileId + ") but not on the medium");
          continue;
        }
        std::size_t i = it->second;
        referenced[i] = true;
        if (++seen[i] == 2) add(code::kDicomdirNonconformant, Severity::Warning, files_[i].path, "referenced twice by the DICOMDIR");
        const auto& p = results_[i].parsed;
        if (p.kind != FileKind::Instance) continue;
        std::vector<std::string> differ;
        if (ref.sopInstanceUid != p.instance.sopInstanceUid) differ.push_back("SOP Instance UID");
        if (!ref.sopClassUid.empty() && ref.sopClassUid != p.instance.sopClassUid) differ.push_back("SOP Class UID");
        if (!ref.transferSyntaxUid.empty() && ref.transferSyntaxUid != p.instance.transferSyntaxUid)
          differ.push_back("Transfer Syntax UID");
        if (ref.havePatient && ref.patientId != p.patientId) differ.push_back("Patient ID");
        if (ref.haveStudy && ref.studyUid != p.studyUid) differ.push_back("Study Instance UID");
        if (ref.haveSeries && ref.seriesUid != p.seriesUid) differ.push_back("Series Instance UID");
        if (!differ.empty()) {
          std::string list;
          for (const auto& d2 : differ) list += (list.empty() ? "" : ", ") + d2;
          add(code::kDicomdirRecordMismatch, Severity::Warning, files_[i].path,
              "the DICOMDIR record disagrees with the file on " + list + "; the file's own values are used");
        }
      }
    }
    if (!usable && !candidates_.empty() && !sawInvalidDicomdir_) {
      add(code::kDicomdirMissing, Severity::Warning, "",
          "no DICOMDIR on the medium; every file was examined by content instead");
    }
    if (usable) {
      for (std::size_t i : candidates_) {
        if (!referenced[i]) {
          add(code::kDicomdirUnreferencedFile, Severity::Warning, files_[i].path,
              "a DICOM instance the DICOMDIR does not list; imported all the same");
        }
      }
    }
  }

  void buildTree() {
    std::vector<std::size_t> importable;
    for (std::size_t i : candidates_) {
      if (!excluded_.count(i)) importable.push_back(i);
    }
    std::map<std::string, std::size_t> patientIdx;
    std::vector<std::map<std::string, std::size_t>> studyIdx;
    std::map<std::pair<std::size_t, std::size_t>, std::map<std::string, std::size_t>> seriesIdx;
    auto& patients = report_.patients;
    for (std::size_t i : importable) {
      const auto& p = results_[i].parsed;
      std::string key = !p.patientId.empty() ? "id:" + p.patientId + "\x1f" + p.issuer
                                             : "noid:" + p.patientName + "\x1f" + p.birthDate;
      auto [pit, newPatient] = patientIdx.emplace(key, patients.size());
      if (newPatient) {
        PatientOnMedium np;
        np.patientId = detail::sanitiseUtf8(p.patientId);
        np.issuer = detail::sanitiseUtf8(p.issuer);
        np.name = detail::sanitiseUtf8(p.patientName);
        np.birthDate = p.birthDate;
        np.sex = p.sex;
        patients.push_back(std::move(np));
        studyIdx.emplace_back();
      }
      auto& patient = patients[pit->second];
      auto note = [](std::vector<std::string>& variants, const std::string& v) {
        if (std::find(variants.begin(), variants.end(), v) == variants.end()) variants.push_back(v);
      };
      note(patient.nameVariants, detail::sanitiseUtf8(p.patientName));
      note(patient.birthDateVariants, p.birthDate);
      note(patient.sexVariants, p.sex);
      auto [sit, newStudy] = studyIdx[pit->second].emplace(p.studyUid, patient.studies.size());
      if (newStudy) {
        StudyOnMedium s;
        s.studyInstanceUid = p.studyUid;
        s.studyDate = p.studyDate;
        s.studyTime = p.studyTime;
        s.studyId = detail::sanitiseUtf8(p.studyId);
        s.accessionNumber = detail::sanitiseUtf8(p.accession);
        s.description = detail::sanitiseUtf8(p.studyDescription);
        patient.studies.push_back(std::move(s));
      }
      auto& study = patient.studies[sit->second];
      auto& seriesMap = seriesIdx[{pit->second, sit->second}];
      auto [seit, newSeries] = seriesMap.emplace(p.seriesUid, study.series.size());
      if (newSeries) {
        SeriesOnMedium se;
        se.seriesInstanceUid = p.seriesUid;
        se.modality = p.modality;
        se.description = detail::sanitiseUtf8(p.seriesDescription);
        se.seriesNumber = p.seriesNumber;
        study.series.push_back(std::move(se));
      }
      auto inst = p.instance;
      inst.path = detail::sanitiseUtf8(inst.path);
      study.series[seit->second].instances.push_back(std::move(inst));
      ++report_.summary.instances;
      report_.summary.bytes += p.instance.size;
    }
    for (auto& patient : patients) {
      std::stable_sort(patient.studies.begin(), patient.studies.end(), [](const auto& a, const auto& b) {
        return a.studyDate + a.studyTime < b.studyDate + b.studyTime;
      });
      for (auto& study : patient.studies) {
        std::stable_sort(study.series.begin(), study.series.end(), [](const auto& a, const auto& b) {
          return numberOrMax(a.seriesNumber) < numberOrMax(b.seriesNumber);
        });
        study.modalities.clear();
        for (const auto& se : study.series) {
          if (!se.modality.empty() &&
              std::find(study.modalities.begin(), study.modalities.end(), se.modality) == study.modalities.end()) {
            study.modalities.push_back(se.modality);
          }
        }
        for (auto& series : study.series) {
          std::stable_sort(series.instances.begin(), series.instances.end(), [](const auto& a, const auto& b) {
            auto na = numberOrMax(a.instanceNumber);
            auto nb = numberOrMax(b.instanceNumber);
            return na != nb ? na < nb : a.path < b.path;
          });
        }
      }
    }
  }

  void conclude() {
    if (report_.patients.size() > 1) {
      add(code::kMultiplePatients, Severity::Warning, "",
          std::to_string(report_.patients.size()) + " different patients on this medium; each needs its own confirmation");
    }
    if (report_.summary.instances == 0) {
      std::string found;
      for (const auto& [what, n] : otherContent_) found += (found.empty() ? "" : ", ") + std::to_string(n) + " × " + what;
      if (report_.summary.corrupt > 0) {
        found += (found.empty() ? "" : ", ") + std::to_string(report_.summary.corrupt) + " damaged DICOM files";
      }
      if (report_.summary.duplicates > 0) {
        found += (found.empty() ? "" : ", ") + std::to_string(report_.summary.duplicates) + " conflicting duplicates";
      }
      if (found.empty()) found = files_.empty() ? "the medium holds no files" : "nothing usable";
      add(code::kNoDicomContent, Severity::Error, "", "no importable DICOM instance; found instead: " + found);
    }
  }

  Medium& medium_;
  const ScanOptions& options_;
  FileSetReport report_;
  std::vector<MediumEntry> files_;
  std::vector<FileResult> results_;
  std::vector<std::size_t> candidates_;
  std::vector<std::size_t> dicomdirs_;
  std::set<std::size_t> excluded_;
  std::map<std::string, std::size_t> otherContent_;
  bool sawInvalidDicomdir_ = false;
};

}  // namespace

Result<FileSetReport> scanMedium(Medium& medium, const std::string& source, const ScanOptions& options) {
  Scanner scanner(medium, options);
  return scanner.run(source);
}

}  // namespace discbridge::ingest
