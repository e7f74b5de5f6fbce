import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

/// The worker ABI under the original project's service name, `tts.TTSService`, so that its
/// clients (which call `/tts.TTSService/<Method>`) reach a Duplex worker unchanged.
///
/// The messages are identical on the wire; only the path differs. This service registers the
/// eight methods of `base` a second time under descriptors whose service is
/// ``serviceName``: the handlers are the service's own (no second copy of the generated code,
/// no second implementation). Serve it beside the service itself:
///
/// ```swift
/// let server = GRPCServer(transport: transport, services: [worker, LegacyTTSService(worker)])
/// ```
public struct LegacyTTSService<Base: Duplex_Tts_V1_TTSService.StreamingServiceProtocol>: RegistrableRPCService {
    /// The original project's fully qualified service name (proto `package tts;`).
    public static var serviceName: String { "tts.TTSService" }

    /// The service whose handlers answer both names.
    public let base: Base

    /// Wraps `base`.
    public init(_ base: Base) {
        self.base = base
    }

    /// The descriptor of `method` under the legacy service name.
    public static func descriptor(_ method: MethodDescriptor) -> MethodDescriptor {
        MethodDescriptor(fullyQualifiedService: serviceName, method: method.method)
    }

    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias Method = Duplex_Tts_V1_TTSService.Method
        let base = self.base
        register(Method.StartSession.self, with: &router, base.startSession)
        register(Method.EndSession.self, with: &router, base.endSession)
        register(Method.Synthesize.self, with: &router, base.synthesize)
        register(Method.Control.self, with: &router, base.control)
        register(Method.ListModels.self, with: &router, base.listModels)
        register(Method.LoadModel.self, with: &router, base.loadModel)
        register(Method.UnloadModel.self, with: &router, base.unloadModel)
        register(Method.GetCapabilities.self, with: &router, base.getCapabilities)
    }

    private func register<M: LegacyMethod, Transport: ServerTransport>(
        _ method: M.Type, with router: inout RPCRouter<Transport>,
        _ handler: @escaping @Sendable (StreamingServerRequest<M.Input>, ServerContext) async throws -> StreamingServerResponse<M.Output>
    ) {
        router.registerHandler(
            forMethod: Self.descriptor(M.descriptor), deserializer: ProtobufDeserializer<M.Input>(),
            serializer: ProtobufSerializer<M.Output>(), handler: { request, context in try await handler(request, context) })
    }
}

/// A generated method namespace (`Duplex_Tts_V1_TTSService.Method.X`): its descriptor and
/// message types.
protocol LegacyMethod {
    associatedtype Input: SwiftProtobuf.Message & Sendable
    associatedtype Output: SwiftProtobuf.Message & Sendable
    static var descriptor: MethodDescriptor { get }
}

extension Duplex_Tts_V1_TTSService.Method.StartSession: LegacyMethod {}
extension Duplex_Tts_V1_TTSService.Method.EndSession: LegacyMethod {}
extension Duplex_Tts_V1_TTSService.Method.Synthesize: LegacyMethod {}
extension Duplex_Tts_V1_TTSService.Method.Control: LegacyMethod {}
extension Duplex_Tts_V1_TTSService.Method.ListModels: LegacyMethod {}
extension Duplex_Tts_V1_TTSService.Method.LoadModel: LegacyMethod {}
extension Duplex_Tts_V1_TTSService.Method.UnloadModel: LegacyMethod {}
extension Duplex_Tts_V1_TTSService.Method.GetCapabilities: LegacyMethod {}
