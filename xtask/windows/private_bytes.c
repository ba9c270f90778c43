/* Prints the memory counters (GetProcessMemoryInfo) of each running process with the name
 * given, one line each: "pid=N private_bytes=N working_set=N". Built with MinGW and run under
 * Wine by `cargo xtask windows test` to measure the agent's footprint there. */
#include <windows.h>
#include <tlhelp32.h>
#include <psapi.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: private_bytes NAME.exe\n");
        return 2;
    }
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snapshot == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "CreateToolhelp32Snapshot: error %lu\n", GetLastError());
        return 1;
    }
    PROCESSENTRY32 entry;
    entry.dwSize = sizeof entry;
    int found = 0;
    for (BOOL more = Process32First(snapshot, &entry); more; more = Process32Next(snapshot, &entry)) {
        if (_stricmp(entry.szExeFile, argv[1]) != 0)
            continue;
        HANDLE process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, FALSE,
                                     entry.th32ProcessID);
        if (!process) {
            fprintf(stderr, "OpenProcess(%lu): error %lu\n", entry.th32ProcessID, GetLastError());
            continue;
        }
        PROCESS_MEMORY_COUNTERS_EX counters;
        counters.cb = sizeof counters;
        if (GetProcessMemoryInfo(process, (PROCESS_MEMORY_COUNTERS *)&counters, sizeof counters)) {
            printf("pid=%lu private_bytes=%llu working_set=%llu\n", entry.th32ProcessID,
                   (unsigned long long)counters.PrivateUsage,
                   (unsigned long long)counters.WorkingSetSize);
            found = 1;
        } else {
            fprintf(stderr, "GetProcessMemoryInfo(%lu): error %lu\n", entry.th32ProcessID,
                    GetLastError());
        }
        CloseHandle(process);
    }
    CloseHandle(snapshot);
    return found ? 0 : 1;
}
