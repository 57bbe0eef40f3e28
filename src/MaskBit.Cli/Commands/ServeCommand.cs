using System.CommandLine;
using MaskBit.Server;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit serve</c>: the model behind a web API and a page (<see cref="ServerApp"/>), loaded once; prints
/// <c>listening on http://HOST:PORT</c> when ready and runs until Ctrl+C or SIGTERM.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new ServeOptions();
        var model = new ModelOptions(withGenerator: true);
        var host = new Option<string>("--host") { Description = "Address to listen on: loopback by default; 0.0.0.0 or :: for every interface (behind a reverse proxy with TLS: docs/serving.md)", DefaultValueFactory = _ => defaults.Host };
        var port = new Option<int>("--port") { Description = "Port (0: any free one, printed)", DefaultValueFactory = _ => defaults.Port };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for the model while one runs; more get 429 with Retry-After", DefaultValueFactory = _ => defaults.QueueCapacity };
        var timeout = new Option<double>("--timeout") { Description = "Seconds a request may take, queue wait included; then 504 and its work stops", DefaultValueFactory = _ => defaults.RequestTimeout.TotalSeconds };
        var maxImages = new Option<int>("--max-images") { Description = "Images per generate request", DefaultValueFactory = _ => defaults.MaxImages };

        var cmd = new Command("serve", "Serve the model: a web page and a JSON/PNG API to generate, inpaint, edit, outpaint, flip bits and interpolate.");
        model.AddTo(cmd);
        foreach (var o in new Option[] { host, port, queue, timeout, maxImages }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            double seconds = r.GetValue(timeout);
            if (!(seconds > 0 && seconds <= 86400)) throw new ArgumentException($"--timeout must be in (0, 86400] seconds, got {seconds}");
            var options = (defaults with
            {
                Host = r.GetValue(host)!, Port = r.GetValue(port), QueueCapacity = r.GetValue(queue),
                RequestTimeout = TimeSpan.FromSeconds(seconds), MaxImages = r.GetValue(maxImages),
            }).Validate();
            using var pipeline = model.Load(r);
            var server = ServerApp.Create(pipeline, options);
            try
            {
                server.StartAsync().GetAwaiter().GetResult();
                Console.WriteLine($"listening on {server.Address}");
                server.WaitForShutdownAsync().GetAwaiter().GetResult();
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return 0;
        });
        return cmd;
    }
}
