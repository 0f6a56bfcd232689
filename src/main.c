/* sockpit: picks the TUI or the headless front end. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("sockpit %s\n", SP_VERSION);
        return 0;
    }
    fprintf(stderr, "sockpit: not built yet\n");
    return 2;
}
