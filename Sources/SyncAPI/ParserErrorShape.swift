import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import SyncCore

/// A request NIO cannot parse (a malformed request line or header) never reaches the router, and
/// Hummingbird answers it with an empty 400. This handler, after the HTTP codec, answers it in the
/// API's one error shape instead, then closes the connection (the stream cannot be trusted after).
final class ParserErrorShape: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !answered else { return }
        answered = true
        let body: [String: JSONValue] = [
            "error": .string("the request is not valid HTTP/1.1 (\(parserError)); syncd closed the connection"),
            "status": .number(400), "code": .string("bad_request"),
        ]
        var buffer = context.channel.allocator.buffer(capacity: 256)
        buffer.writeBytes((try? JSONCoding.prettyEncoder.encode(body)) ?? Data())
        buffer.writeString("\n")
        let head = HTTPResponse(status: .badRequest, headerFields: [
            .contentType: "application/json; charset=utf-8", .contentLength: "\(buffer.readableBytes)", .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
