// DCMTK's decoders for compressed pixel data (JPEG, JPEG-LS, RLE), registered
// once per process: thumbnails and the lossless fallback of a C-STORE need them.
#pragma once

namespace discbridge::ingest {

void registerDecoders();

}  // namespace discbridge::ingest
