// Image decoding for the CLIP module: thin wrappers over libjpeg(-turbo), libpng
// and libwebp. They live in C because libjpeg and libpng report errors with
// longjmp, which must never cross Swift frames; here setjmp catches it and the
// wrapper returns an error message instead.
#ifndef CLIP_IMAGE_CODECS_H
#define CLIP_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

/// A decoded image. `pixels` is malloc'ed, interleaved 8-bit, `channels`
/// (3 = RGB, 4 = RGBA with straight alpha) per pixel; free with clip_image_free.
typedef struct {
    uint8_t *pixels;
    int width;
    int height;
    int channels;
    /// Set when decoding fails: a one-line reason.
    char error[256];
} clip_image;

typedef enum { CLIP_FORMAT_JPEG, CLIP_FORMAT_PNG, CLIP_FORMAT_WEBP } clip_format;

/// Each decoder returns 0 on success, -1 with `out->error` set on failure.
/// `max_pixels` bounds width*height before any pixel memory is allocated.
/// With `into` (exactly width*height*3 bytes, the size clip_image_size gave) the
/// RGB pixels are written there and `out->pixels` is `into` (not to be freed);
/// with NULL they are malloc'ed.
int clip_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size, clip_image *out);
int clip_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size, clip_image *out);
int clip_decode_webp(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size, clip_image *out);

/// Reads only the header: sets `out->width` and `out->height`, or fails as the
/// decoder would on a bad header or a size over `max_pixels`.
int clip_image_size(const uint8_t *data, size_t size, clip_format format, uint64_t max_pixels, clip_image *out);
void clip_image_free(clip_image *image);

#endif
