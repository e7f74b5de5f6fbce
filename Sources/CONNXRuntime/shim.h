// The few entries of onnxruntime's C API that Duplex calls, declared by hand: the C headers
// are not in the sherpa-onnx wheel that carries libonnxruntime.so (1.28.x), and Debian 12
// has no libonnxruntime-dev.
//
// `OrtGetApiBase()->GetApi(version)` returns a table of function pointers (`OrtApi`) that
// onnxruntime only ever appends to; the slots below belong to its frozen "version 1" block,
// so their positions are fixed in every release. DuplexTurn's tests check them by behaviour
// (a status round trip, a session run) against Python onnxruntime on the same input.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct DuplexOrtApiBase {
    const void *const *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} DuplexOrtApiBase;

/// Exported by libonnxruntime.so.
const DuplexOrtApiBase *OrtGetApiBase(void);

/// The API version asked for (the first release whose table holds every slot used here).
#define DUPLEX_ORT_API_VERSION 14

/// Slots of the OrtApi table.
enum DuplexOrtSlot {
    DuplexOrtSlotCreateStatus = 0,
    DuplexOrtSlotGetErrorCode = 1,
    DuplexOrtSlotGetErrorMessage = 2,
    DuplexOrtSlotCreateEnv = 3,
    DuplexOrtSlotCreateSession = 7,
    DuplexOrtSlotRun = 9,
    DuplexOrtSlotCreateSessionOptions = 10,
    DuplexOrtSlotSetSessionExecutionMode = 13,
    DuplexOrtSlotSetSessionGraphOptimizationLevel = 23,
    DuplexOrtSlotSetIntraOpNumThreads = 24,
    DuplexOrtSlotSetInterOpNumThreads = 25,
    DuplexOrtSlotSessionGetInputCount = 30,
    DuplexOrtSlotSessionGetOutputCount = 31,
    DuplexOrtSlotSessionGetInputName = 36,
    DuplexOrtSlotSessionGetOutputName = 37,
    DuplexOrtSlotCreateTensorWithDataAsOrtValue = 49,
    DuplexOrtSlotGetTensorMutableData = 51,
    DuplexOrtSlotCreateCpuMemoryInfo = 69,
    DuplexOrtSlotAllocatorFree = 76,
    DuplexOrtSlotGetAllocatorWithDefaultOptions = 78,
    DuplexOrtSlotReleaseEnv = 92,
    DuplexOrtSlotReleaseStatus = 93,
    DuplexOrtSlotReleaseMemoryInfo = 94,
    DuplexOrtSlotReleaseSession = 95,
    DuplexOrtSlotReleaseValue = 96,
    DuplexOrtSlotReleaseSessionOptions = 100,
};

typedef void *DuplexOrtStatus;  // NULL means success

typedef DuplexOrtStatus (*DuplexOrtCreateStatusFn)(int code, const char *message);
typedef int (*DuplexOrtGetErrorCodeFn)(DuplexOrtStatus status);
typedef const char *(*DuplexOrtGetErrorMessageFn)(DuplexOrtStatus status);
typedef DuplexOrtStatus (*DuplexOrtCreateEnvFn)(int logLevel, const char *logID, void **env);
typedef DuplexOrtStatus (*DuplexOrtCreateSessionFn)(void *env, const char *modelPath, void *options, void **session);
typedef DuplexOrtStatus (*DuplexOrtRunFn)(
    void *session, void *runOptions, const char *const *inputNames, const void *const *inputs, size_t inputCount,
    const char *const *outputNames, size_t outputCount, void **outputs);
typedef DuplexOrtStatus (*DuplexOrtCreateSessionOptionsFn)(void **options);
typedef DuplexOrtStatus (*DuplexOrtSetIntFn)(void *options, int value);
typedef DuplexOrtStatus (*DuplexOrtCountFn)(void *session, size_t *count);
typedef DuplexOrtStatus (*DuplexOrtNameFn)(void *session, size_t index, void *allocator, char **name);
typedef DuplexOrtStatus (*DuplexOrtCreateTensorFn)(
    void *memoryInfo, void *data, size_t byteCount, const int64_t *shape, size_t rank, int elementType, void **value);
typedef DuplexOrtStatus (*DuplexOrtGetTensorDataFn)(void *value, void **data);
typedef DuplexOrtStatus (*DuplexOrtCreateCpuMemoryInfoFn)(int allocatorType, int memoryType, void **info);
typedef DuplexOrtStatus (*DuplexOrtAllocatorFreeFn)(void *allocator, void *pointer);
typedef DuplexOrtStatus (*DuplexOrtGetAllocatorFn)(void **allocator);
typedef void (*DuplexOrtReleaseFn)(void *object);

/// ONNX element type of float tensors; CPU memory info arguments.
#define DUPLEX_ORT_FLOAT 1
#define DUPLEX_ORT_ARENA_ALLOCATOR 1
#define DUPLEX_ORT_MEM_TYPE_DEFAULT 0
#define DUPLEX_ORT_ENABLE_ALL 99
#define DUPLEX_ORT_LOGGING_ERROR 3
