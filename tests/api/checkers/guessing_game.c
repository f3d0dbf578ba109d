/* The guessing game's interactor in testlib's protocol, without testlib:
 * `interactor <input_file> <output_file> <answer_file>`. The input holds n, the answer
 * the secret; the program is told n on its stdin, asks `? x` (answered `>=` when
 * secret >= x, else `<`) at most ceil(log2 n) times, and ends with `! x`. Exit status
 * 0 accepted, 1 wrong answer, 2 presentation error, 3 failure; the message on stderr. */
#include <stdio.h>
#include <stdlib.h>

static void quit(int status, const char *message, int value) {
    fprintf(stderr, message, value);
    fprintf(stderr, "\n");
    exit(status);
}

int main(int argc, char **argv) {
    if (argc < 4)
        quit(3, "usage: interactor <input> <output> <answer> (%d arguments)", argc - 1);
    FILE *in = fopen(argv[1], "r"), *ans = fopen(argv[3], "r");
    int n, secret;
    if (!in || !ans || fscanf(in, "%d", &n) != 1 || fscanf(ans, "%d", &secret) != 1)
        quit(3, "cannot read the input or the answer (%d)", 0);
    int allowed = 0;
    while ((1 << allowed) < n)
        allowed++;
    printf("%d\n", n);
    fflush(stdout);
    for (int queries = 0;;) {
        char kind;
        int value;
        if (scanf(" %c %d", &kind, &value) != 2)
            quit(2, "not a query or an answer after %d queries", queries);
        if (kind == '!') {
            if (value != secret)
                quit(1, "wrong guess %d", value);
            quit(0, "found in %d queries", queries);
        }
        if (kind != '?')
            quit(2, "not a query: %c", kind);
        if (++queries > allowed)
            quit(1, "more than %d queries", allowed);
        printf(secret >= value ? ">=\n" : "<\n");
        fflush(stdout);
    }
}
