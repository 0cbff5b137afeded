/* loopnet-port [--transcript] CASES RESULTS: run every conformance case listed in
 * CASES/index.json and write RESULTS/<name>.json for `loopnet conformance check CASES RESULTS`.
 * With --transcript, exp, log, tanh, cos and pow are answered from each case's transcript. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "json.h"
#include "libm.h"

#define FORMAT "loopnet-conformance"
#define VERSION 2

static char *join(const char *dir, const char *name, const char *suffix) {
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(n);
    if (!p) die("out of memory");
    snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

static jval *load(const char *path) {
    char err[256];
    jval *v = json_parse_file(path, err, sizeof err);
    const jval *format, *version;
    if (!v) die("%s: %s", path, err);
    format = json_get(v, "format");
    version = json_get(v, "version");
    if (!format || format->type != J_STRING || strcmp(format->string, FORMAT) != 0 ||
        !version || version->type != J_NUMBER || version->number != VERSION)
        die("%s is not a %s version %d file", path, FORMAT, VERSION);
    return v;
}

/* Write the result through a temporary file, renamed into place when complete. */
static void run_one(const char *cases_dir, const char *results_dir, const char *file,
                    int transcript) {
    char *path = join(cases_dir, file, "");
    jval *c = load(path);
    const char *name = json_str(json_need(c, "name"), "name");
    const char *kind = json_str(json_need(c, "kind"), "kind");
    char *out_path = join(results_dir, name, ".json");
    char *tmp_path = join(results_dir, name, ".json.tmp");
    FILE *f = fopen(tmp_path, "w");
    if (!f) die("cannot write %s (does the results directory exist?)", tmp_path);
    if (transcript) lm_use_transcript(json_get(c, "libm"));
    else lm_use_libm();
    fprintf(f, "{\"format\": \"loopnet-conformance-result\", \"version\": %d, \"case\": \"%s\",\n"
               "\"libm\": \"%s\",\n\"output\": ", VERSION, name, transcript ? "transcript" : "own");
    if (!run_case_kind(kind, json_need(c, "input"), f)) {
        fclose(f);
        remove(tmp_path);
        fprintf(stderr, "loopnet-port: skipping %s: unknown kind \"%s\"\n", name, kind);
    } else {
        if (transcript) {
            fputs(",\n", f);
            lm_write_misses(f);
        }
        fputs("}\n", f);
        if (fclose(f) != 0 || rename(tmp_path, out_path) != 0) die("cannot write %s", out_path);
        printf("ran %s\n", name);
    }
    free(tmp_path);
    free(out_path);
    free(path);
    json_free(c);
}

int main(int argc, char **argv) {
    char *index_path;
    jval *index;
    const jval *cases;
    size_t k;
    int transcript = argc > 1 && strcmp(argv[1], "--transcript") == 0;
    argv += transcript;
    argc -= transcript;
    if (argc != 3) {
        fprintf(stderr, "usage: loopnet-port [--transcript] CASES_DIR RESULTS_DIR\n");
        return 2;
    }
    index_path = join(argv[1], "index.json", "");
    index = load(index_path);
    cases = json_array(json_need(index, "cases"), "cases");
    for (k = 0; k < cases->count; k++)
        run_one(argv[1], argv[2], json_str(json_need(&cases->items[k], "file"), "file"),
                transcript);
    lm_use_libm();
    json_free(index);
    free(index_path);
    return 0;
}
