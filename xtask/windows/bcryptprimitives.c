/* bcryptprimitives.dll for Wine 8, which lacks ProcessPrng: Rust's std (1.78 and later) asks
 * Windows for random bytes through it. Placed beside the test executable by
 * `cargo xtask windows test`; real Windows (10 and later) has its own and never loads this. */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 under this name; Wine implements it. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
