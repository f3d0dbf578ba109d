/* A checker in testlib's protocol, without testlib: `check <input> <output> <answer>`.
 * The input is a graph ("n m", then m edges), the answer the number of vertices on a
 * shortest path from 1 to n, the output the contestant's path. Exit status 0 accepted,
 * 1 wrong answer, 2 presentation error (a token that is no vertex), 3 checker failure;
 * the message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OK = 0, WA = 1, PE = 2, FAIL = 3, MAX_N = 1000, MAX_PATH = 100000 };

static int edge[MAX_N + 1][MAX_N + 1];
static long path[MAX_PATH];

static void quit(int status, const char *message) {
    fprintf(stderr, "%s\n", message);
    exit(status);
}

int main(int argc, char **argv) {
    if (argc != 4)
        quit(FAIL, "usage: check <input> <output> <answer>");
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "r"), *ans = fopen(argv[3], "r");
    if (!in || !out || !ans)
        quit(FAIL, "cannot open a file");
    int n, m, want;
    if (fscanf(in, "%d %d", &n, &m) != 2 || n < 1 || n > MAX_N)
        quit(FAIL, "bad input");
    for (int i = 0; i < m; i++) {
        int u, v;
        if (fscanf(in, "%d %d", &u, &v) != 2 || u < 1 || u > n || v < 1 || v > n)
            quit(FAIL, "bad edge");
        edge[u][v] = edge[v][u] = 1;
    }
    if (fscanf(ans, "%d", &want) != 1)
        quit(FAIL, "bad answer");
    char token[64];
    int length = 0;
    while (fscanf(out, "%63s", token) == 1) {
        char *end;
        long vertex = strtol(token, &end, 10);
        if (*end != '\0' || end == token)
            quit(PE, "a token that is no vertex");
        if (length == MAX_PATH)
            quit(WA, "too long");
        path[length++] = vertex;
    }
    if (length != want) {
        char message[96];
        snprintf(message, sizeof message, "%d vertices, a shortest path has %d", length, want);
        quit(WA, message);
    }
    if (path[0] != 1 || path[length - 1] != n)
        quit(WA, "not from 1 to n");
    for (int i = 1; i < length; i++)
        if (path[i] < 1 || path[i] > n || !edge[path[i - 1]][path[i]])
            quit(WA, "not a path of the graph");
    quit(OK, "a shortest path");
}
