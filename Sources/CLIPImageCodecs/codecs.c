#include "clip_image_codecs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>

static void set_error(clip_image *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
}

void clip_image_free(clip_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}

static int check_size(clip_image *out, uint64_t w, uint64_t h, uint64_t max_pixels) {
    if (w == 0 || h == 0) {
        set_error(out, "image has zero width or height");
        return -1;
    }
    if (w * h > max_pixels) {
        set_error(out, "image is %llux%llu pixels, more than the limit of %llu",
                  (unsigned long long)w, (unsigned long long)h, (unsigned long long)max_pixels);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ JPEG */

struct jpeg_error {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    int truncated;
};

static void jpeg_error_exit(j_common_ptr cinfo) {
    struct jpeg_error *err = (struct jpeg_error *)cinfo->err;
    longjmp(err->jump, 1);
}

static void jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct jpeg_error *err = (struct jpeg_error *)cinfo->err;
    /* Warnings are level -1. A premature end of data means a truncated file:
       libjpeg would pad it with grey; Pillow refuses it, and so do we. */
    if (level < 0 && err->mgr.msg_code == JWRN_JPEG_EOF) err->truncated = 1;
}

/* Pillow's CMYK -> RGB: channel = (255 - K) - (C * (255 - K)) / 255, rounded. */
static uint8_t cmyk_channel(unsigned c, unsigned k) {
    unsigned nk = 255 - k;
    unsigned t = c * nk + 128;
    unsigned muldiv = ((t >> 8) + t) >> 8;
    return (uint8_t)(nk - muldiv);
}

/* Decodes into `into` (exactly w*h*3 bytes) when given, else into malloc'ed memory;
   with `header_only` it stops after the header, setting only the size. */
static int decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size,
                       int header_only, clip_image *out) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error err;
    /* volatile: modified between setjmp and a possible longjmp. */
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    memset(out, 0, sizeof *out);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    err.mgr.emit_message = jpeg_emit_message;
    if (setjmp(err.jump)) {
        char message[JMSG_LENGTH_MAX];
        err.mgr.format_message((j_common_ptr)&cinfo, message);
        if (err.truncated)
            set_error(out, "truncated JPEG (data ends early): %s", message);
        else
            set_error(out, "invalid JPEG: %s", message);
        jpeg_destroy_decompress(&cinfo);
        if (pixels != into) free(pixels);
        free(row);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    /* Bound libjpeg's own working memory (progressive files buffer coefficients). */
    cinfo.mem->max_memory_to_use = 512L << 20;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 14, 0xFFFF); /* Adobe marker decides CMYK inversion */
    jpeg_read_header(&cinfo, TRUE);
    if (check_size(out, cinfo.image_width, cinfo.image_height, max_pixels)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    if (header_only) {
        out->width = (int)cinfo.image_width;
        out->height = (int)cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (cmyk) {
        cinfo.out_color_space = JCS_CMYK;
    } else if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
        cinfo.out_color_space = JCS_GRAYSCALE;
    } else {
        cinfo.out_color_space = JCS_RGB;
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, comps = cinfo.output_components;
    if (into && into_size != (size_t)w * h * 3) {
        set_error(out, "JPEG output is %dx%d, not the size its header announced", w, h);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    pixels = into ? into : malloc((size_t)w * h * 3);
    row = malloc((size_t)w * comps);
    if (!pixels || !row) {
        set_error(out, "out of memory for a %dx%d image", w, h);
        jpeg_destroy_decompress(&cinfo);
        if (pixels != into) free(pixels);
        free(row);
        return -1;
    }
    /* Photoshop writes inverted CMYK and marks it with an Adobe APP14 marker. */
    int inverted = 0;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 14 && m->data_length >= 5 && memcmp(m->data, "Adobe", 5) == 0) inverted = 1;
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        uint8_t *dst = pixels + (size_t)y * w * 3;
        for (int x = 0; x < w; x++) {
            if (comps == 1) {
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
            } else if (comps == 4) {
                unsigned c = row[4 * x], mm = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (inverted) { c = 255 - c; mm = 255 - mm; yy = 255 - yy; k = 255 - k; }
                dst[3 * x] = cmyk_channel(c, k);
                dst[3 * x + 1] = cmyk_channel(mm, k);
                dst[3 * x + 2] = cmyk_channel(yy, k);
            } else {
                memcpy(dst + 3 * x, row + 3 * x, 3);
            }
        }
        if (err.truncated) break;
    }
    if (err.truncated) {
        set_error(out, "truncated JPEG (data ends before the image is complete)");
        jpeg_destroy_decompress(&cinfo);
        if (pixels != into) free(pixels);
        free(row);
        return -1;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    out->pixels = pixels;
    out->width = w;
    out->height = h;
    out->channels = 3;
    return 0;
}

int clip_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size, clip_image *out) {
    return decode_jpeg(data, size, max_pixels, into, into_size, 0, out);
}

/* ------------------------------------------------------------------- PNG */

struct png_reader {
    const uint8_t *data;
    size_t size;
    size_t offset;
    clip_image *out;
};

static void png_read_memory(png_structp png, png_bytep dst, png_size_t n) {
    struct png_reader *r = png_get_io_ptr(png);
    if (n > r->size - r->offset) png_error(png, "truncated PNG (data ends early)");
    memcpy(dst, r->data + r->offset, n);
    r->offset += n;
}

static void png_on_error(png_structp png, png_const_charp message) {
    struct png_reader *r = png_get_error_ptr(png);
    set_error(r->out, "invalid PNG: %s", message);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static int decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size,
                      int header_only, clip_image *out) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp(data, 0, 8)) {
        set_error(out, "not a PNG file");
        return -1;
    }
    /* IHDR must come first: check the declared size before libpng allocates anything. */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint64_t w = (uint64_t)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
        uint64_t h = (uint64_t)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
        if (check_size(out, w, h, max_pixels)) return -1;
    }
    struct png_reader reader = {data, size, 0, out};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        set_error(out, "out of memory");
        png_destroy_read_struct(&png, NULL, NULL);
        return -1;
    }
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        if (pixels != into) free(pixels);
        free(rows);
        return -1;
    }
    png_set_read_fn(png, &reader, png_read_memory);
    /* Ancillary chunks (e.g. huge text or ICC) are capped too. */
    png_set_chunk_malloc_max(png, 64 << 20);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (check_size(out, w, h, max_pixels)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    if (header_only) {
        out->width = (int)w;
        out->height = (int)h;
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    /* Pillow's convert("RGB"): palette colours, grey replicated, alpha and tRNS
       transparency dropped (not composited), 16-bit samples reduced to their high byte. */
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    /* Expanding a palette also turns tRNS into alpha, which must go as well. */
    if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) png_error(png, "unexpected row layout after conversion to RGB");
    if (into && into_size != (size_t)w * h * 3) png_error(png, "buffer does not match the image size");
    pixels = into ? into : malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->pixels = pixels;
    out->width = (int)w;
    out->height = (int)h;
    out->channels = 3;
    return 0;
}

int clip_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size, clip_image *out) {
    return decode_png(data, size, max_pixels, into, into_size, 0, out);
}

/* ------------------------------------------------------------------ WebP */

static int decode_webp(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size,
                       int header_only, clip_image *out) {
    memset(out, 0, sizeof *out);
    WebPBitstreamFeatures features;
    VP8StatusCode status = WebPGetFeatures(data, size, &features);
    if (status != VP8_STATUS_OK) {
        set_error(out, "invalid WebP header (status %d)", (int)status);
        return -1;
    }
    if (features.has_animation) {
        set_error(out, "animated WebP is not supported");
        return -1;
    }
    if (check_size(out, (uint64_t)features.width, (uint64_t)features.height, max_pixels)) return -1;
    if (header_only) {
        out->width = features.width;
        out->height = features.height;
        return 0;
    }
    if (into) {
        /* Straight into the caller's buffer: no second copy of the image. */
        if (into_size != (size_t)features.width * features.height * 3) {
            set_error(out, "buffer does not match the image size");
            return -1;
        }
        if (!WebPDecodeRGBInto(data, size, into, into_size, features.width * 3)) {
            set_error(out, "invalid or truncated WebP data");
            return -1;
        }
        out->pixels = into;
        out->width = features.width;
        out->height = features.height;
        out->channels = 3;
        return 0;
    }
    int w = 0, h = 0;
    /* Decoding straight to RGB drops alpha, as Pillow's convert("RGB") does. */
    uint8_t *rgb = WebPDecodeRGB(data, size, &w, &h);
    if (!rgb) {
        set_error(out, "invalid or truncated WebP data");
        return -1;
    }
    out->pixels = malloc((size_t)w * h * 3);
    if (!out->pixels) {
        WebPFree(rgb);
        set_error(out, "out of memory");
        return -1;
    }
    memcpy(out->pixels, rgb, (size_t)w * h * 3);
    WebPFree(rgb);
    out->width = w;
    out->height = h;
    out->channels = 3;
    return 0;
}

int clip_decode_webp(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, size_t into_size, clip_image *out) {
    return decode_webp(data, size, max_pixels, into, into_size, 0, out);
}

int clip_image_size(const uint8_t *data, size_t size, clip_format format, uint64_t max_pixels, clip_image *out) {
    switch (format) {
    case CLIP_FORMAT_JPEG: return decode_jpeg(data, size, max_pixels, NULL, 0, 1, out);
    case CLIP_FORMAT_PNG: return decode_png(data, size, max_pixels, NULL, 0, 1, out);
    case CLIP_FORMAT_WEBP: return decode_webp(data, size, max_pixels, NULL, 0, 1, out);
    }
    set_error(out, "unknown format");
    return -1;
}
